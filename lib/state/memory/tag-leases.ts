/** Tag leases in memory: one tag item per destination tag, each claim, renewal and release checked and applied at once. */
import type { TagClaim, TagLeases, TagRecord } from "../store.ts";
import type { MemoryTables } from "./tables.ts";

export class MemoryTagLeases implements TagLeases {
  private readonly m: MemoryTables;

  constructor(m: MemoryTables) {
    this.m = m;
  }

  async claimTag(key: string, jobId: string, eventTime: number, leaseMs: number): Promise<TagClaim> {
    const now = this.m.now();
    const tag = this.m.tags.get(key) ?? {};
    const notNewer = tag.eventTime === undefined || tag.eventTime <= eventTime;
    const free = tag.leaseOwner === undefined || (tag.leaseUntil !== undefined && tag.leaseUntil < now) || tag.leaseOwner === jobId;
    if (notNewer && free) {
      this.m.tags.set(key, { ...tag, leaseOwner: jobId, leaseUntil: now + leaseMs });
      return "acquired";
    }
    return tag.eventTime !== undefined && tag.eventTime > eventTime ? "superseded" : "busy";
  }

  async renewTag(key: string, jobId: string, leaseMs: number): Promise<boolean> {
    const tag = this.m.tags.get(key);
    if (tag?.leaseOwner !== jobId || tag.leaseUntil === undefined || tag.leaseUntil < this.m.now()) return false;
    tag.leaseUntil = this.m.now() + leaseMs;
    return true;
  }

  async releaseTag(key: string, jobId: string, eventTime: number, digest: string): Promise<boolean> {
    // Not applied when the lease expired and another job took it: the caller then checks the tag.
    const tag = this.m.tags.get(key);
    if (tag?.leaseOwner !== jobId) return false;
    this.m.tags.set(key, { eventTime, digest, jobId });
    return true;
  }

  async getTag(key: string): Promise<TagRecord | undefined> {
    const tag = this.m.tags.get(key);
    if (!tag) return undefined;
    const rec: TagRecord = {};
    if (tag.eventTime !== undefined) rec.eventTime = tag.eventTime;
    if (tag.digest) rec.digest = tag.digest;
    if (tag.jobId) rec.jobId = tag.jobId;
    if (tag.leaseOwner) rec.leaseOwner = tag.leaseOwner;
    if (tag.leaseUntil !== undefined) rec.leaseUntil = tag.leaseUntil;
    return rec;
  }
}
