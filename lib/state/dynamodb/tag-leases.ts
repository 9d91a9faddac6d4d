/** Tag leases on DynamoDB: one `TAG#<dst:tag>/TAG` item per destination tag, every move and lease a conditional write on it. */
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import type { TagClaim, TagLeases, TagRecord } from "../store.ts";
import { tagFromItem } from "./codec.ts";
import { applied, type DynamoTable } from "./context.ts";
import { tagKey } from "./table.ts";

export class DynamoTagLeases implements TagLeases {
  private readonly t: DynamoTable;

  constructor(t: DynamoTable) {
    this.t = t;
  }

  async claimTag(key: string, jobId: string, eventTime: number, leaseMs: number): Promise<TagClaim> {
    const now = this.t.now();
    const acquired = await applied(this.t, {
      key: tagKey(key),
      update: "SET leaseOwner = :me, leaseUntil = :until",
      condition: "(attribute_not_exists(eventTime) OR eventTime <= :t) AND (attribute_not_exists(leaseOwner) OR leaseUntil < :now OR leaseOwner = :me)",
      values: { ":me": jobId, ":until": now + leaseMs, ":t": eventTime, ":now": now },
    });
    if (acquired) return "acquired";
    const recorded = (await this.getTag(key))?.eventTime;
    return recorded !== undefined && recorded > eventTime ? "superseded" : "busy";
  }

  renewTag(key: string, jobId: string, leaseMs: number): Promise<boolean> {
    const now = this.t.now();
    return applied(this.t, {
      key: tagKey(key),
      update: "SET leaseUntil = :until",
      condition: "leaseOwner = :me AND leaseUntil >= :now",
      values: { ":me": jobId, ":until": now + leaseMs, ":now": now },
    });
  }

  releaseTag(key: string, jobId: string, eventTime: number, digest: string): Promise<boolean> {
    // Not applied when the lease expired and another job took it: the caller then checks the tag.
    return applied(this.t, {
      key: tagKey(key),
      update: "SET eventTime = :t, digest = :d, jobId = :me REMOVE leaseOwner, leaseUntil",
      condition: "leaseOwner = :me",
      values: { ":t": eventTime, ":d": digest, ":me": jobId },
    });
  }

  async getTag(key: string): Promise<TagRecord | undefined> {
    const out = await this.t.db.send(new GetItemCommand({ TableName: this.t.name, Key: tagKey(key), ConsistentRead: true }));
    return out.Item ? tagFromItem(out.Item) : undefined;
  }
}
