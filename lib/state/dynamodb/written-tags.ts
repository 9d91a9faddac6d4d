/**
 * Written tags on DynamoDB: one `WROTE#<source>/TAG#<destination>:<tag>` item per destination tag
 * ferry moved from a source repository (beside the items of `table.ts`), so one query reads a
 * source's; each write is conditional on the event time, each forget on the digest. No TTL.
 */
import { ConditionalCheckFailedException, DeleteItemCommand, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import type { WrittenTag, WrittenTags } from "../written-tags.ts";
import { toItem } from "./codec.ts";
import { type DynamoTable, queryAll } from "./context.ts";
import type { Item } from "./table.ts";

const PREFIX = "WROTE#";
const writtenKey = (source: string, destination: string, tag: string): Item => marshall({ pk: `${PREFIX}${source}`, sk: `TAG#${destination}:${tag}` });

/** A record from its item; undefined when a field is missing. */
function fromItem(item: Item): WrittenTag | undefined {
  const r = unmarshall(item) as Partial<WrittenTag>;
  if (typeof r.source !== "string" || typeof r.destination !== "string" || typeof r.tag !== "string" || typeof r.digest !== "string") return undefined;
  return {
    source: r.source,
    ...(typeof r.sourceTag === "string" ? { sourceTag: r.sourceTag } : {}),
    destination: r.destination,
    tag: r.tag,
    digest: r.digest,
    eventTime: Number(r.eventTime),
    jobId: String(r.jobId),
    ...(typeof r.rule === "string" ? { rule: r.rule } : {}),
  };
}

/** True when the conditional write was applied, false when its condition failed. */
async function conditional(sent: Promise<unknown>): Promise<boolean> {
  try {
    await sent;
    return true;
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return false;
    throw e;
  }
}

export class DynamoWrittenTags implements WrittenTags {
  private readonly t: DynamoTable;

  constructor(t: DynamoTable) {
    this.t = t;
  }

  async noteWritten(rec: WrittenTag): Promise<boolean> {
    const item = { ...writtenKey(rec.source, rec.destination, rec.tag), ...toItem({ ...rec }) };
    return conditional(
      this.t.db.send(
        new PutItemCommand({
          TableName: this.t.name,
          Item: item,
          ConditionExpression: "attribute_not_exists(pk) OR eventTime <= :t",
          ExpressionAttributeValues: marshall({ ":t": rec.eventTime }),
        }),
      ),
    );
  }

  async getWritten(source: string, destination: string, tag: string): Promise<WrittenTag | undefined> {
    const out = await this.t.db.send(new GetItemCommand({ TableName: this.t.name, Key: writtenKey(source, destination, tag), ConsistentRead: true }));
    return out.Item ? fromItem(out.Item) : undefined;
  }

  async writtenFrom(source: string): Promise<WrittenTag[]> {
    const items = await queryAll(this.t, {
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: marshall({ ":pk": `${PREFIX}${source}` }),
      ConsistentRead: true,
    });
    return items.map(fromItem).filter((r): r is WrittenTag => r !== undefined);
  }

  async forgetWritten(source: string, destination: string, tag: string, digest: string): Promise<boolean> {
    return conditional(
      this.t.db.send(
        new DeleteItemCommand({
          TableName: this.t.name,
          Key: writtenKey(source, destination, tag),
          ConditionExpression: "digest = :d",
          ExpressionAttributeValues: marshall({ ":d": digest }),
        }),
      ),
    );
  }
}
