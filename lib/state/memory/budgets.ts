/** Rate budgets in memory: one token bucket per key, taken from atomically (no await in between). */
import { type BucketState, takeFromBucket } from "../rules.ts";
import type { RateBudgets, TokenGrant } from "../store.ts";
import type { MemoryTables } from "./tables.ts";

export class MemoryBudgets implements RateBudgets {
  private readonly m: MemoryTables;
  private readonly buckets = new Map<string, BucketState>();

  constructor(m: MemoryTables) {
    this.m = m;
  }

  async takeTokens(key: string, want: number, ratePerSecond: number, burst: number): Promise<TokenGrant> {
    const { next, grant } = takeFromBucket(this.buckets.get(key), want, ratePerSecond, burst, this.m.now());
    this.buckets.set(key, next);
    return grant;
  }

  async holdBudget(key: string, untilMs: number): Promise<void> {
    const b = this.buckets.get(key) ?? { tokens: 0, at: this.m.now() };
    this.buckets.set(key, { ...b, tokens: 0, heldUntil: Math.max(untilMs, b.heldUntil ?? 0) });
  }
}
