/**
 * Upload records on DynamoDB: one `UPLOAD#<key>/UPLOAD` item each (beside the items of
 * `table.ts`), with a `ttl`. DynamoDB's TTL deletes an item some time after it passes, so a read
 * checks it too.
 */
import { DeleteItemCommand, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { UPLOAD_RECORD_TTL_DAYS, type UploadRecord, type UploadRecords } from "../uploads.ts";
import { toItem } from "./codec.ts";
import { type DynamoTable, stamp, ttlIn } from "./context.ts";
import type { Item } from "./table.ts";

const uploadKey = (key: string): Item => marshall({ pk: `UPLOAD#${key}`, sk: "UPLOAD" });

export class DynamoUploads implements UploadRecords {
  private readonly t: DynamoTable;

  constructor(t: DynamoTable) {
    this.t = t;
  }

  async saveUpload(key: string, rec: UploadRecord): Promise<void> {
    const values = { ...rec, updatedAt: stamp(this.t), ttl: ttlIn(this.t, UPLOAD_RECORD_TTL_DAYS) };
    await this.t.db.send(new PutItemCommand({ TableName: this.t.name, Item: { ...uploadKey(key), ...toItem(values) } }));
  }

  async getUpload(key: string): Promise<UploadRecord | undefined> {
    const out = await this.t.db.send(new GetItemCommand({ TableName: this.t.name, Key: uploadKey(key), ConsistentRead: true }));
    if (!out.Item) return undefined;
    const row = unmarshall(out.Item) as Partial<UploadRecord> & { ttl?: number };
    if (row.ttl !== undefined && row.ttl * 1000 <= this.t.now()) return undefined;
    if (typeof row.location !== "string" || typeof row.hashState !== "string" || typeof row.digest !== "string") return undefined;
    return { digest: row.digest, size: Number(row.size), location: row.location, offset: Number(row.offset), hashState: row.hashState };
  }

  async dropUpload(key: string): Promise<void> {
    await this.t.db.send(new DeleteItemCommand({ TableName: this.t.name, Key: uploadKey(key) }));
  }
}
