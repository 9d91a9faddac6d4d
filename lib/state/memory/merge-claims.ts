/** The merge's claim in memory: `mergeClaim` and `mergeLeaseUntil` on the job item, as in DynamoDB. */
import type { MergeClaims } from "../store.ts";
import type { MemoryTables } from "./tables.ts";

export class MemoryMergeClaims implements MergeClaims {
  private readonly m: MemoryTables;

  constructor(m: MemoryTables) {
    this.m = m;
  }

  async claimMerge(jobId: string, claimant: string, leaseMs: number): Promise<boolean> {
    const now = this.m.now();
    const it = this.m.job(jobId);
    if (!it || (it.status !== "copying" && it.status !== "merging")) return false;
    // A claim whose lease has run out may be taken (DynamoDB: `mergeLeaseUntil < :now`).
    const free = it.mergeClaim === undefined || it.mergeClaim === claimant || (it.mergeLeaseUntil !== undefined && it.mergeLeaseUntil < now);
    if (!free) return false;
    it.mergeClaim = claimant;
    it.mergeLeaseUntil = now + leaseMs;
    it.status = "merging";
    it.updatedAt = new Date(now).toISOString();
    it.mergeRuns = (it.mergeRuns ?? 0) + 1;
    return true;
  }

  async releaseMerge(jobId: string, claimant: string): Promise<void> {
    const it = this.m.job(jobId);
    if (it?.mergeClaim !== claimant) return;
    delete it.mergeClaim;
    delete it.mergeLeaseUntil;
  }
}
