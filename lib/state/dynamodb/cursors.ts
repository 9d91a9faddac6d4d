/** Cursors on DynamoDB: one `CURSOR#<key>/CURSOR` item per resume point, its `value` a string; clearing one deletes it. */
import { DeleteItemCommand, type DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { Cursors } from "../store.ts";
import { toItem } from "./codec.ts";
import { type DynamoTable, stamp } from "./context.ts";
import { cursorKey } from "./table.ts";

/** The resume point saved under `key` in `table`, read without the rest of the store. */
export async function getCursorItem(db: DynamoDBClient, table: string, key: string): Promise<string | undefined> {
  const out = await db.send(new GetItemCommand({ TableName: table, Key: cursorKey(key), ConsistentRead: true }));
  const value = out.Item ? (unmarshall(out.Item) as { value?: unknown }).value : undefined;
  return typeof value === "string" ? value : undefined;
}

export class DynamoCursors implements Cursors {
  private readonly t: DynamoTable;

  constructor(t: DynamoTable) {
    this.t = t;
  }

  getCursor(key: string): Promise<string | undefined> {
    return getCursorItem(this.t.db, this.t.name, key);
  }

  async putCursor(key: string, value: string | undefined): Promise<void> {
    if (value === undefined) {
      await this.t.db.send(new DeleteItemCommand({ TableName: this.t.name, Key: cursorKey(key) }));
      return;
    }
    await this.t.db.send(new PutItemCommand({ TableName: this.t.name, Item: { ...cursorKey(key), ...toItem({ value, updatedAt: stamp(this.t) }) } }));
  }
}
