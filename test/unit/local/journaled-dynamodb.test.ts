/**
 * The durable embedded DynamoDB: what was answered survives a stop (and a kill: the journal is
 * written before the answer), conditional writes replay to the same outcome, a line cut by a
 * crash is dropped, and compaction keeps the state while it drops items whose TTL passed.
 */
import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { BatchWriteItemCommand, DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { startJournaledDynamo } from "../../../lib/local/journaled-dynamodb.ts";
import { DynamoJobStore, ensureTable } from "../../../lib/state/dynamodb.ts";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const freshDir = () => {
  const d = mkdtempSync(join(tmpdir(), "ferry-journal-"));
  dirs.push(d);
  return d;
};
const client = (endpoint: string) =>
  new DynamoDBClient({ endpoint, region: "us-east-1", credentials: { accessKeyId: "ferrylocal", secretAccessKey: "ferrylocal" } });
const key = (k: string) => ({ pk: { S: k }, sk: { S: "X" } });

it("answered writes come back after a restart, in their order, conditional ones with the same outcome", async () => {
  const dir = freshDir();
  let store = await startJournaledDynamo(dir);
  let db = client(store.endpoint);
  await ensureTable(db, "tbl");
  await db.send(new PutItemCommand({ TableName: "tbl", Item: { ...key("a"), n: { N: "1" } } }));
  await db.send(
    new UpdateItemCommand({ TableName: "tbl", Key: key("a"), UpdateExpression: "SET n = n + :one", ExpressionAttributeValues: { ":one": { N: "1" } } }),
  );
  // refused by its condition: not journaled, and not replayed as if it had happened
  await assert.rejects(
    db.send(
      new UpdateItemCommand({
        TableName: "tbl",
        Key: key("a"),
        UpdateExpression: "SET n = :z",
        ConditionExpression: "n = :x",
        ExpressionAttributeValues: { ":z": { N: "0" }, ":x": { N: "99" } },
      }),
    ),
    (e: unknown) => (e as { name?: string }).name === "ConditionalCheckFailedException",
  );
  await db.send(
    new BatchWriteItemCommand({
      RequestItems: { tbl: [{ PutRequest: { Item: { ...key("b"), n: { N: "5" } } } }, { PutRequest: { Item: { ...key("c"), n: { N: "6" } } } }] },
    }),
  );
  await db.send(new DeleteItemCommand({ TableName: "tbl", Key: key("c") }));
  db.destroy();
  await store.stop();

  store = await startJournaledDynamo(dir);
  db = client(store.endpoint);
  assert.ok(store.replayed >= 5);
  assert.equal((await db.send(new GetItemCommand({ TableName: "tbl", Key: key("a"), ConsistentRead: true }))).Item?.n?.N, "2");
  assert.equal((await db.send(new GetItemCommand({ TableName: "tbl", Key: key("b"), ConsistentRead: true }))).Item?.n?.N, "5");
  assert.equal((await db.send(new GetItemCommand({ TableName: "tbl", Key: key("c"), ConsistentRead: true }))).Item, undefined);
  db.destroy();
  await store.stop();
});

it("the job store's indexes and conditions work on it, and a line cut by a crash is dropped", async () => {
  const dir = freshDir();
  let store = await startJournaledDynamo(dir);
  let db = client(store.endpoint);
  await ensureTable(db, "jobs");
  let jobs = new DynamoJobStore(db, { tableName: "jobs" });
  const request = { source: "127.0.0.1:1/a:v1", destinations: ["127.0.0.1:2/a"], trigger: "api" as const, eventTime: new Date().toISOString() };
  for (const id of ["j1", "j2", "j3"]) assert.equal(await jobs.createJob({ id, request }), true);
  await jobs.updateJob("j2", { status: "succeeded" });
  db.destroy();
  await store.stop();
  appendFileSync(join(dir, "dynamodb.journal"), '{"t":"PutItem","b":"{\\"TableName'); // a write torn by kill -9, never answered

  store = await startJournaledDynamo(dir);
  db = client(store.endpoint);
  jobs = new DynamoJobStore(db, { tableName: "jobs" });
  assert.equal(await jobs.createJob({ id: "j1", request }), false, "still there: a duplicate is refused");
  assert.deepEqual((await jobs.listActive()).map((j) => j.id).sort(), ["j1", "j3"]);
  assert.deepEqual((await jobs.listJobs(10)).map((j) => j.id).sort(), ["j1", "j2", "j3"]);
  db.destroy();
  await store.stop();
});

it("compaction rewrites a long journal as the state it describes, without items whose TTL passed", async () => {
  const dir = freshDir();
  let store = await startJournaledDynamo(dir);
  let db = client(store.endpoint);
  await ensureTable(db, "tbl");
  const past = Math.floor(Date.now() / 1000) - 60;
  for (let i = 0; i < 30; i++)
    await db.send(
      new PutItemCommand({ TableName: "tbl", Item: { ...key(`k${i % 5}`), n: { N: String(i) }, ...(i % 5 === 4 ? { ttl: { N: String(past) } } : {}) } }),
    );
  db.destroy();
  await store.stop();
  const before = readFileSync(join(dir, "dynamodb.journal"), "utf8").trim().split("\n").length;

  store = await startJournaledDynamo(dir, { compactAt: 10 });
  await store.stop();
  const after = readFileSync(join(dir, "dynamodb.journal"), "utf8").trim().split("\n");
  assert.ok(after.length < before, `${after.length} lines after, ${before} before`);
  store = await startJournaledDynamo(dir);
  db = client(store.endpoint);
  const n = async (k: string) => (await db.send(new GetItemCommand({ TableName: "tbl", Key: key(k), ConsistentRead: true }))).Item?.n?.N;
  assert.deepEqual([await n("k0"), await n("k1"), await n("k2"), await n("k3")], ["25", "26", "27", "28"]);
  assert.equal(await n("k4"), undefined, "expired by its ttl");
  await ensureTable(db, "tbl"); // the table and its indexes came back as they were
  db.destroy();
  await store.stop();
});

it("a running server compacts as it goes, and expired items leave memory too", async () => {
  const dir = freshDir();
  let store = await startJournaledDynamo(dir, { compactAt: 10 });
  let db = client(store.endpoint);
  await ensureTable(db, "tbl");
  const past = Math.floor(Date.now() / 1000) - 60;
  await db.send(new PutItemCommand({ TableName: "tbl", Item: { ...key("old"), ttl: { N: String(past) } } }));
  for (let i = 0; i < 24; i++) await db.send(new PutItemCommand({ TableName: "tbl", Item: { ...key(`k${i % 3}`), n: { N: String(i) } } }));
  const lines = readFileSync(join(dir, "dynamodb.journal"), "utf8").trim().split("\n").length;
  assert.ok(lines < 15, `${lines} journal lines after 26 writes with compactAt 10`);
  const get = async (k: string) => (await db.send(new GetItemCommand({ TableName: "tbl", Key: key(k), ConsistentRead: true }))).Item;
  assert.equal(await get("old"), undefined, "expired, and gone from memory without a restart");
  assert.equal((await get("k2"))?.n?.N, "23");
  db.destroy();
  await store.stop();
  store = await startJournaledDynamo(dir, { compactAt: 10 });
  db = client(store.endpoint);
  assert.deepEqual([(await get("k0"))?.n?.N, (await get("k1"))?.n?.N, (await get("k2"))?.n?.N], ["21", "22", "23"]);
  db.destroy();
  await store.stop();
});
