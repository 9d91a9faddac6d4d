/** The table every part of the adapter shares (client, name, clock, TTL) and the requests they all make: conditional writes and bounded paged queries. */
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
  QueryCommand,
  type QueryCommandInput,
  type ReturnValue,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import type { NativeAttributeValue } from "@aws-sdk/util-dynamodb";
import { FerryError } from "../../errors.ts";
import { toItem } from "./codec.ts";
import type { Item } from "./table.ts";

/** Pages a query follows before it gives up: far beyond any job's tasks or the jobs under way. */
export const MAX_QUERY_PAGES = 1000;

export interface DynamoTable {
  readonly db: DynamoDBClient;
  readonly name: string;
  /** Days a finished job is kept before TTL removes it. */
  readonly ttlDays: number;
  readonly now: () => number;
}

/** Now, as the ISO time `createdAt` and `updatedAt` hold. */
export const stamp = (t: DynamoTable): string => new Date(t.now()).toISOString();

/** The `ttl` attribute (epoch seconds) `days` days from now. */
export const ttlIn = (t: DynamoTable, days: number): number => Math.floor(t.now() / 1000) + days * 86400;

/** One conditional UpdateItem; `values` are plain values, marshalled here. */
export interface ConditionalUpdate {
  key: Item;
  update: string;
  condition: string;
  names?: Record<string, string>;
  values?: Record<string, NativeAttributeValue>;
  returnValues?: ReturnValue;
}

/** Sends a conditional update: the attributes it returned ({} when none were asked for), or undefined when its condition failed. */
export async function updateIf(t: DynamoTable, u: ConditionalUpdate): Promise<Item | undefined> {
  const values = u.values && Object.keys(u.values).length ? toItem(u.values) : undefined;
  try {
    const out = await t.db.send(
      new UpdateItemCommand({
        TableName: t.name,
        Key: u.key,
        UpdateExpression: u.update,
        ConditionExpression: u.condition,
        ...(u.names ? { ExpressionAttributeNames: u.names } : {}),
        ...(values ? { ExpressionAttributeValues: values } : {}),
        ...(u.returnValues ? { ReturnValues: u.returnValues } : {}),
      }),
    );
    return out.Attributes ?? {};
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return undefined;
    throw e;
  }
}

/** Sends a conditional update: true when it was applied, false when its condition failed. */
export async function applied(t: DynamoTable, u: ConditionalUpdate): Promise<boolean> {
  return (await updateIf(t, u)) !== undefined;
}

/** Puts `item` when `condition` holds: true when it was written. */
export async function putIf(t: DynamoTable, item: Item, condition: string): Promise<boolean> {
  try {
    await t.db.send(new PutItemCommand({ TableName: t.name, Item: item, ConditionExpression: condition }));
    return true;
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return false;
    throw e;
  }
}

/** Every item a query matches, following its pages (at most `MAX_QUERY_PAGES`). */
export async function queryAll(t: DynamoTable, input: Omit<QueryCommandInput, "TableName" | "ExclusiveStartKey">): Promise<Item[]> {
  const items: Item[] = [];
  let start: Item | undefined;
  for (let page = 0; page < MAX_QUERY_PAGES; page++) {
    const out = await t.db.send(new QueryCommand({ TableName: t.name, ...input, ...(start ? { ExclusiveStartKey: start } : {}) }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
    if (!start) return items;
  }
  throw new FerryError("INTERNAL", `query on ${t.name} still had more pages after ${MAX_QUERY_PAGES}`);
}
