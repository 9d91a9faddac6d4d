/**
 * A registry's request budget shared by every worker: at most `perSecond` requests in any second
 * (a bucket refilled at perSecond less a burst of a tenth). Tokens are leased from the store a
 * tenth of a second's worth at a time, so a request far from the limit rarely costs a store trip; a short wait when the budget is out, else the work is deferred (DEFERRED), never failed.
 * The registry's own signals — 429 with Retry-After, RateLimit-Remaining: 0 — hold the budget for
 * every worker.
 */
import { DeferredError } from "../errors.ts";
import type { RequestBudget } from "./rate.ts";

/** The store's side of a shared budget (lib/state's RateBudgets, for one key). */
export interface BudgetLeases {
  take(want: number, ratePerSecond: number, burst: number): Promise<{ granted: number; retryAfterMs: number }>;
  hold(untilMs: number): Promise<void>;
}

export interface SharedBudgetOptions {
  /** Requests per second for every worker together. */
  perSecond: number;
  /** Bursts up to this many requests (default: one second's worth). */
  burst?: number;
  /** Waits up to this long for the budget; longer, the work is deferred. Default 2000 ms. */
  maxWaitMs?: number;
  /** What names the budget in messages (the registry host). */
  name: string;
}

export class SharedBudget implements RequestBudget {
  private local = 0;
  private chain: Promise<void> = Promise.resolve();
  private readonly burst: number;
  private readonly batch: number;

  /** The bucket's refill rate: `perSecond` less the burst, so no second ever sees more than `perSecond`. */
  private readonly rate: number;

  constructor(
    private readonly leases: BudgetLeases,
    private readonly o: SharedBudgetOptions,
  ) {
    // In any second a bucket gives at most burst + rate: keep that within perSecond.
    this.burst = o.burst ?? Math.max(1, Math.floor(o.perSecond / 10));
    this.rate = Math.max(o.perSecond - this.burst, o.perSecond / 10);
    // A lease is a tenth of a second's tokens: spent at once, so what a worker holds is always little.
    this.batch = Math.max(1, Math.min(this.burst, Math.ceil(this.rate / 10)));
  }

  take(): Promise<void> {
    const next = this.chain.then(() => this.takeOne());
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async takeOne(): Promise<void> {
    let waited = 0;
    const maxWait = this.o.maxWaitMs ?? 2000;
    for (;;) {
      if (this.local >= 1) {
        this.local--;
        return;
      }
      const g = await this.leases.take(this.batch, this.rate, this.burst);
      if (g.granted > 0) {
        this.local += g.granted;
        continue;
      }
      if (waited + g.retryAfterMs > maxWait) {
        throw new DeferredError(`${this.o.name}: the shared request budget (${this.o.perSecond}/s) is spent`, Math.ceil(g.retryAfterMs / 1000));
      }
      await new Promise((r) => setTimeout(r, g.retryAfterMs));
      waited += g.retryAfterMs;
    }
  }

  /** Holds the budget for every worker when the registry asks to slow down. */
  async observe(status: number, headers: Record<string, string | string[] | undefined>): Promise<void> {
    const until = slowDownUntil(status, headers, Date.now());
    if (until === undefined) return;
    this.local = 0;
    await this.leases.hold(until);
  }
}

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/** When the registry said to come back: 429's Retry-After (seconds or a date), or RateLimit-Remaining 0 (a minute). */
export function slowDownUntil(status: number, headers: Record<string, string | string[] | undefined>, now: number): number | undefined {
  const retryAfter = first(headers["retry-after"]);
  if (status === 429) {
    if (retryAfter && /^\d+$/.test(retryAfter.trim())) return now + Number(retryAfter.trim()) * 1000;
    const date = retryAfter ? Date.parse(retryAfter) : Number.NaN;
    return Number.isNaN(date) ? now + 60_000 : Math.max(now, date);
  }
  const remaining = first(headers["ratelimit-remaining"]);
  if (remaining !== undefined && /^\s*0\s*(;|$)/.test(remaining)) return now + 60_000;
  return undefined;
}
