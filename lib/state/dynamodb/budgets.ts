/**
 * Rate budgets on DynamoDB: one `RATE#<key>/RATE` item per bucket (tokens, at, heldUntil, a version
 * v). A take reads the item, refills and takes (rules.ts), and writes under a condition on v: a
 * racing worker's write makes it read again (bounded), so no token is granted twice.
 */
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { FerryError } from "../../errors.ts";
import { type BucketState, takeFromBucket } from "../rules.ts";
import type { RateBudgets, TokenGrant } from "../store.ts";
import { applied, type DynamoTable } from "./context.ts";

const TRIES = 8;
const keyOf = (key: string) => marshall({ pk: `RATE#${key}`, sk: "RATE" });

export class DynamoBudgets implements RateBudgets {
  private readonly t: DynamoTable;

  constructor(t: DynamoTable) {
    this.t = t;
  }

  private async read(key: string): Promise<(BucketState & { v: number }) | undefined> {
    const out = await this.t.db.send(new GetItemCommand({ TableName: this.t.name, Key: keyOf(key), ConsistentRead: true }));
    return out.Item ? (unmarshall(out.Item) as BucketState & { v: number }) : undefined;
  }

  async takeTokens(key: string, want: number, ratePerSecond: number, burst: number): Promise<TokenGrant> {
    for (let i = 0; i < TRIES; i++) {
      const before = await this.read(key);
      const { next, grant } = takeFromBucket(before, want, ratePerSecond, burst, this.t.now());
      // Optimistic on the version `v`: every write (a take, a hold) bumps it, so a racing one makes this read again.
      const written = await applied(this.t, {
        key: keyOf(key),
        update:
          next.heldUntil !== undefined
            ? "SET tokens = :tokens, #at = :at, heldUntil = :held, v = :v1"
            : "SET tokens = :tokens, #at = :at, v = :v1 REMOVE heldUntil",
        condition: before ? "v = :v0" : "attribute_not_exists(pk)",
        names: { "#at": "at" },
        values: {
          ":tokens": next.tokens,
          ":at": next.at,
          ":v1": (before?.v ?? 0) + 1,
          ...(next.heldUntil !== undefined ? { ":held": next.heldUntil } : {}),
          ...(before ? { ":v0": before.v } : {}),
        },
      });
      if (written) return grant;
    }
    throw new FerryError("INTERNAL", `rate budget ${key}: too many concurrent takes`, { retryable: true });
  }

  async holdBudget(key: string, untilMs: number): Promise<void> {
    // Empties the bucket now and bumps the version, so a take that read before this writes nothing.
    await applied(this.t, {
      key: keyOf(key),
      update: "SET tokens = :zero, heldUntil = :until, #at = :now, v = if_not_exists(v, :zero) + :one",
      condition: "attribute_not_exists(heldUntil) OR heldUntil < :until",
      names: { "#at": "at" },
      values: { ":zero": 0, ":one": 1, ":until": untilMs, ":now": this.t.now() },
    });
  }
}
