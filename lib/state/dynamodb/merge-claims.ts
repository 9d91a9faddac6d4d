/** The merge's claim on DynamoDB: `mergeClaim` and `mergeLeaseUntil` on the job item, taken and given up by conditional writes. */
import type { MergeClaims } from "../store.ts";
import { applied, type DynamoTable } from "./context.ts";
import { jobKey } from "./table.ts";

export class DynamoMergeClaims implements MergeClaims {
  private readonly t: DynamoTable;

  constructor(t: DynamoTable) {
    this.t = t;
  }

  claimMerge(jobId: string, claimant: string, leaseMs: number): Promise<boolean> {
    const now = this.t.now();
    return applied(this.t, {
      key: jobKey(jobId),
      update: "SET mergeClaim = :c, mergeLeaseUntil = :until, #s = :merging, updatedAt = :u ADD mergeRuns :one",
      condition: "attribute_exists(pk) AND (attribute_not_exists(mergeClaim) OR mergeClaim = :c OR mergeLeaseUntil < :now) AND #s IN (:copying, :merging)",
      names: { "#s": "status" },
      values: {
        ":c": claimant,
        ":until": now + leaseMs,
        ":now": now,
        ":merging": "merging",
        ":copying": "copying",
        ":u": new Date(now).toISOString(),
        ":one": 1,
      },
    });
  }

  async releaseMerge(jobId: string, claimant: string): Promise<void> {
    await applied(this.t, {
      key: jobKey(jobId),
      update: "REMOVE mergeClaim, mergeLeaseUntil",
      condition: "mergeClaim = :c",
      values: { ":c": claimant },
    });
  }
}
