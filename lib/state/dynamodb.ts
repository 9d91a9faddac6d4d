/**
 * The job store on DynamoDB, single-item conditional writes only (dynalite has no transactions):
 *   JOB#<id>/JOB          the job: status, request, plan, result, task counts as string sets
 *   JOB#<id>/TASK#<task>  one item per task
 *   TAG#<dst:tag>/TAG     the ordering guard and lease of a destination tag
 * GSI `gsi1` (gsi1pk = "JOBS#0".."JOBS#7", gsi1sk = createdAt#id) lists recent jobs, newest first
 * across its shards (one partition took every job update's index write); `ttl` expires finished jobs.
 * GSI `active` (activeShard = "A#0".."A#7", createdAt; keys only) is sparse: only jobs not yet
 * final carry `activeShard`, so the reconciler reads just those, spread over 8 partitions.
 */
import { createHash } from "node:crypto";
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  CreateTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  UpdateTableCommand,
  BatchWriteItemCommand,
  DescribeTableCommand,
  DeleteItemCommand,
  ResourceNotFoundException,
} from "@aws-sdk/client-dynamodb";
import { type ErrorRecord, FerryError } from "../errors.ts";
import type { ReplicationRequest } from "../queue/messages.ts";
import {
  FINAL_STATUSES,
  type Job,
  type JobPatch,
  type JobPlan,
  type JobStatus,
  type JobStore,
  type TagClaim,
  type TagRecord,
  type Task,
  type TaskCompletion,
} from "./store.ts";
import { updatableFrom } from "./rules.ts";

type Item = Record<string, AttributeValue>;
const S = (s: string): AttributeValue => ({ S: s });
const N = (n: number): AttributeValue => ({ N: String(n) });
const str = (v: AttributeValue | undefined) => v?.S;
const num = (v: AttributeValue | undefined) => (v?.N === undefined ? undefined : Number(v.N));
const json = <T>(v: AttributeValue | undefined): T | undefined => (v?.S ? (JSON.parse(v.S) as T) : undefined);
/** An error attribute: a JSON record (a plain string from before records had codes). */
const errorAttr = (v: AttributeValue | undefined): ErrorRecord | undefined =>
  v?.S === undefined ? undefined : v.S.startsWith("{") ? (JSON.parse(v.S) as ErrorRecord) : { code: "INTERNAL", message: v.S, retryable: false };

/** Batch writes of one page of tasks before unprocessed items are an error (about 5 s of back-off). */
const BATCH_WRITE_ATTEMPTS = 8;

/** Partitions of the `active` index: enough to spread writes, few enough to read in one pass. */
export const ACTIVE_SHARDS = 8;
const shardOf = (jobId: string) => (createHash("sha256").update(jobId).digest()[0] ?? 0) % ACTIVE_SHARDS;
const activeShard = (jobId: string) => S(`A#${shardOf(jobId)}`);

export interface DynamoJobStoreOptions {
  tableName: string;
  /** Days a finished job is kept before TTL removes it. */
  ttlDays?: number;
  now?: () => number;
}

export class DynamoJobStore implements JobStore {
  private readonly db: DynamoDBClient;
  private readonly table: string;
  private readonly ttlDays: number;
  private readonly now: () => number;

  constructor(db: DynamoDBClient, opts: DynamoJobStoreOptions) {
    this.db = db;
    this.table = opts.tableName;
    this.ttlDays = opts.ttlDays ?? 14;
    this.now = opts.now ?? (() => Date.now());
  }

  private key(jobId: string, sk = "JOB"): Item {
    return { pk: S(`JOB#${jobId}`), sk: S(sk) };
  }

  /** Sends a conditional write: true when it was applied, false when its condition failed. */
  private async applied(command: PutItemCommand | UpdateItemCommand): Promise<boolean> {
    try {
      await (command instanceof PutItemCommand ? this.db.send(command) : this.db.send(command));
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }

  async createJob(job: { id: string; request: ReplicationRequest }): Promise<boolean> {
    const at = new Date(this.now()).toISOString();
    return this.applied(
      new PutItemCommand({
        TableName: this.table,
        Item: {
          ...this.key(job.id),
          id: S(job.id),
          status: S("queued"),
          request: S(JSON.stringify(job.request)),
          createdAt: S(at),
          updatedAt: S(at),
          gsi1pk: S(`JOBS#${shardOf(job.id)}`),
          gsi1sk: S(`${at}#${job.id}`),
          activeShard: activeShard(job.id),
        },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
  }

  private toJob(item: Item): Job {
    const job: Job = {
      id: str(item.id) ?? "",
      status: (str(item.status) ?? "queued") as JobStatus,
      request: json<ReplicationRequest>(item.request) as ReplicationRequest,
      createdAt: str(item.createdAt) ?? "",
      updatedAt: str(item.updatedAt) ?? "",
      done: item.done?.SS ?? [],
      failed: item.failed?.SS ?? [],
    };
    const plan = json<Job["plan"]>(item.plan);
    if (plan) job.plan = plan;
    const taskCount = num(item.taskCount);
    if (taskCount !== undefined) job.taskCount = taskCount;
    const result = json<Job["result"]>(item.result);
    if (result) job.result = result;
    const error = errorAttr(item.error);
    if (error) job.error = error;
    const mergeRuns = num(item.mergeRuns);
    if (mergeRuns !== undefined) job.mergeRuns = mergeRuns;
    const redrives = num(item.redrives);
    if (redrives !== undefined) job.redrives = redrives;
    return job;
  }

  async getJob(id: string, opts: { withTasks?: boolean } = {}): Promise<Job | undefined> {
    const out = await this.db.send(new GetItemCommand({ TableName: this.table, Key: this.key(id), ConsistentRead: true }));
    if (!out.Item) return undefined;
    const job = this.toJob(out.Item);
    if (opts.withTasks) job.tasks = await this.tasks(id);
    return job;
  }

  /** Every item a query matches, following its pages. */
  private async queryAll(input: Omit<ConstructorParameters<typeof QueryCommand>[0], "TableName" | "ExclusiveStartKey">): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const out = await this.db.send(new QueryCommand({ TableName: this.table, ...input, ...(start ? { ExclusiveStartKey: start } : {}) }));
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }

  private async tasks(jobId: string): Promise<Task[]> {
    const items = await this.queryAll({
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :t)",
      ExpressionAttributeValues: { ":pk": S(`JOB#${jobId}`), ":t": S("TASK#") },
      ConsistentRead: true,
    });
    return items.map((it) => {
      const t: Task = {
        id: str(it.taskId) ?? "",
        platform: str(it.platform) ?? "",
        digest: str(it.digest) ?? "",
        mediaType: str(it.mediaType) ?? "",
        size: num(it.size) ?? 0,
        destination: str(it.destination) ?? "",
        state: (str(it.state) ?? "pending") as Task["state"],
      };
      const error = errorAttr(it.error);
      if (error) t.error = error;
      const attempts = num(it.attempts);
      if (attempts !== undefined) t.attempts = attempts;
      return t;
    });
  }

  async listJobs(limit: number): Promise<Job[]> {
    // The newest `limit` of each shard, merged. "JOBS" is the one partition of tables written before sharding.
    const partitions = [...Array.from({ length: ACTIVE_SHARDS }, (_, i) => `JOBS#${i}`), "JOBS"];
    const pages = await Promise.all(
      partitions.map((p) =>
        this.db.send(
          new QueryCommand({
            TableName: this.table,
            IndexName: "gsi1",
            KeyConditionExpression: "gsi1pk = :p",
            ExpressionAttributeValues: { ":p": S(p) },
            ScanIndexForward: false,
            Limit: limit,
          }),
        ),
      ),
    );
    return pages
      .flatMap((out) => out.Items ?? [])
      .sort((a, b) => (str(b.gsi1sk) ?? "").localeCompare(str(a.gsi1sk) ?? ""))
      .slice(0, limit)
      .map((i) => this.toJob(i));
  }

  async updateJob(id: string, patch: JobPatch, from?: readonly JobStatus[]): Promise<boolean> {
    const allowed = updatableFrom(patch, from);
    if (allowed.length === 0) return false;
    // Every attribute goes through a name placeholder: several (status, plan, result, error,
    // ttl) are DynamoDB reserved words, and DynamoDB rejects placeholders an expression omits.
    const names: Record<string, string> = {};
    const values: Item = {};
    const sets: string[] = [];
    const removes: string[] = [];
    const set = (attr: string, value: AttributeValue) => {
      const i = sets.length;
      names[`#a${i}`] = attr;
      values[`:v${i}`] = value;
      sets.push(`#a${i} = :v${i}`);
    };
    set("updatedAt", S(new Date(this.now()).toISOString()));
    if (patch.status) {
      set("status", S(patch.status));
      if (FINAL_STATUSES.includes(patch.status)) {
        set("ttl", N(Math.floor(this.now() / 1000) + this.ttlDays * 86400));
        removes.push("activeShard"); // leaves the reconciler's index
      }
    }
    if (patch.plan) set("plan", S(JSON.stringify(patch.plan)));
    if (patch.taskCount !== undefined) set("taskCount", N(patch.taskCount));
    if (patch.result) set("result", S(JSON.stringify(patch.result)));
    if (patch.error !== undefined) {
      set("error", S(JSON.stringify(patch.error)));
      set("errorRetryable", { BOOL: patch.error.retryable });
    }
    names["#status"] = "status";
    const keys = allowed.map((s, i) => {
      values[`:f${i}`] = S(s);
      return `:f${i}`;
    });
    const condition = `attribute_exists(pk) AND #status IN (${keys.join(", ")})`;
    return this.applied(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.key(id),
        UpdateExpression: `SET ${sets.join(", ")}${removes.length ? ` REMOVE ${removes.join(", ")}` : ""}`,
        ConditionExpression: condition,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  async listActive(): Promise<Array<{ id: string; createdAt: string }>> {
    const shards = await Promise.all(
      Array.from({ length: ACTIVE_SHARDS }, (_, i) =>
        this.queryAll({ IndexName: "active", KeyConditionExpression: "activeShard = :s", ExpressionAttributeValues: { ":s": S(`A#${i}`) } }),
      ),
    );
    return shards
      .flat()
      .map((it) => ({ id: (str(it.pk) ?? "").slice("JOB#".length), createdAt: str(it.createdAt) ?? "" }))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async touchJob(id: string): Promise<void> {
    await this.applied(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.key(id),
        UpdateExpression: "SET updatedAt = :u",
        ConditionExpression: "attribute_exists(activeShard)",
        ExpressionAttributeValues: { ":u": S(new Date(this.now()).toISOString()) },
      }),
    );
  }

  recordPlan(id: string, plan: JobPlan, taskCount: number): Promise<boolean> {
    return this.applied(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.key(id),
        UpdateExpression: "SET #p = :p, taskCount = :n, updatedAt = :u, #s = :planning",
        ConditionExpression: "attribute_not_exists(#p) AND #s IN (:queued, :planning)",
        ExpressionAttributeNames: { "#p": "plan", "#s": "status" },
        ExpressionAttributeValues: {
          ":p": S(JSON.stringify(plan)),
          ":n": N(taskCount),
          ":u": S(new Date(this.now()).toISOString()),
          ":planning": S("planning"),
          ":queued": S("queued"),
        },
      }),
    );
  }

  async putTasks(jobId: string, tasks: Task[]): Promise<void> {
    // Task items carry a TTL too, a day past the earliest their job can expire, so DynamoDB's TTL
    // removes them with their job rather than never (a job lives hours; the reconciler ends one that stops).
    const ttl = N(Math.floor(this.now() / 1000) + (this.ttlDays + 1) * 86400);
    for (let i = 0; i < tasks.length; i += 25) {
      let requests = tasks.slice(i, i + 25).map((t) => ({
        PutRequest: {
          Item: {
            ...this.key(jobId, `TASK#${t.id}`),
            taskId: S(t.id),
            platform: S(t.platform),
            digest: S(t.digest),
            mediaType: S(t.mediaType),
            size: N(t.size),
            destination: S(t.destination),
            state: S(t.state),
            ttl,
          },
        },
      }));
      // Unprocessed items come back under throttling: send them again, a bounded number of times
      // (then the caller's delivery fails and SQS brings it back; writing tasks is idempotent).
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt === BATCH_WRITE_ATTEMPTS) {
          throw new FerryError("INTERNAL", `${requests.length} task items still unprocessed after ${attempt} batch writes (throttled)`, { retryable: true });
        }
        const out = await this.db.send(new BatchWriteItemCommand({ RequestItems: { [this.table]: requests } }));
        requests = (out.UnprocessedItems?.[this.table] ?? []) as typeof requests;
        if (requests.length > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
      }
    }
  }

  async completeTask(jobId: string, taskId: string, outcome: { state: "done" | "failed"; error?: ErrorRecord }): Promise<TaskCompletion> {
    // The task item (for display) and the job (the count) are written at once: the caller acts on
    // the count only after both landed. A failure never overwrites a success (then the task's
    // condition fails, and that is fine).
    const taskWritten = this.applied(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.key(jobId, `TASK#${taskId}`),
        UpdateExpression: outcome.error ? "SET #st = :s, #e = :e" : "SET #st = :s REMOVE #e",
        ConditionExpression: outcome.state === "failed" ? "attribute_exists(pk) AND #st <> :done" : "attribute_exists(pk)",
        ExpressionAttributeNames: { "#st": "state", "#e": "error" },
        ExpressionAttributeValues: {
          ":s": S(outcome.state),
          ...(outcome.error ? { ":e": S(JSON.stringify(outcome.error)) } : {}),
          ...(outcome.state === "failed" ? { ":done": S("done") } : {}),
        },
      }),
    );
    // The job: ADD to a string set is idempotent, so a redelivered completion counts once.
    const jobWritten = this.db.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.key(jobId),
        UpdateExpression: `ADD ${outcome.state === "done" ? "done" : "failed"} :t SET updatedAt = :u`,
        ConditionExpression: "attribute_exists(pk)",
        ExpressionAttributeValues: { ":t": { SS: [taskId] }, ":u": S(new Date(this.now()).toISOString()) },
        ReturnValues: "ALL_NEW",
      }),
    );
    const [, out] = await Promise.all([
      taskWritten,
      jobWritten.catch((e: unknown) => {
        throw e instanceof ConditionalCheckFailedException ? new FerryError("NOT_FOUND", `job ${jobId} does not exist`, { cause: e }) : e;
      }),
    ]);
    const item = out.Attributes ?? {};
    const done = new Set(item.done?.SS ?? []);
    const failed = (item.failed?.SS ?? []).filter((t) => !done.has(t)).length;
    const total = num(item.taskCount) ?? Number.POSITIVE_INFINITY;
    return { done: done.size, failed, total, complete: done.size + failed >= total };
  }

  async noteTaskAttempt(jobId: string, taskId: string, error: ErrorRecord): Promise<void> {
    await this.applied(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.key(jobId, `TASK#${taskId}`),
        UpdateExpression: "SET #e = :e ADD attempts :one",
        ConditionExpression: "attribute_exists(pk)",
        ExpressionAttributeNames: { "#e": "error" },
        ExpressionAttributeValues: { ":e": S(JSON.stringify(error)), ":one": N(1) },
      }),
    );
  }

  async claimMergeEnqueue(jobId: string, taskId: string): Promise<boolean> {
    return this.applied(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.key(jobId),
        UpdateExpression: "SET mergeEnqueuedBy = :t",
        ConditionExpression: "attribute_exists(pk) AND (attribute_not_exists(mergeEnqueuedBy) OR mergeEnqueuedBy = :t)",
        ExpressionAttributeValues: { ":t": S(taskId) },
      }),
    );
  }

  async claimMerge(jobId: string, claimant: string, leaseMs: number): Promise<boolean> {
    const now = this.now();
    return this.applied(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.key(jobId),
        UpdateExpression: "SET mergeClaim = :c, mergeLeaseUntil = :until, #s = :merging, updatedAt = :u ADD mergeRuns :one",
        ConditionExpression:
          "attribute_exists(pk) AND (attribute_not_exists(mergeClaim) OR mergeClaim = :c OR mergeLeaseUntil < :now) AND #s IN (:copying, :merging)",
        ExpressionAttributeNames: { "#s": "status" },
        ExpressionAttributeValues: {
          ":c": S(claimant),
          ":until": N(now + leaseMs),
          ":now": N(now),
          ":merging": S("merging"),
          ":copying": S("copying"),
          ":u": S(new Date(now).toISOString()),
          ":one": N(1),
        },
      }),
    );
  }

  async releaseMerge(jobId: string, claimant: string): Promise<void> {
    await this.applied(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.key(jobId),
        UpdateExpression: "REMOVE mergeClaim, mergeLeaseUntil",
        ConditionExpression: "mergeClaim = :c",
        ExpressionAttributeValues: { ":c": S(claimant) },
      }),
    );
  }

  async redriveJob(jobId: string, opts: { seenUpdatedAt?: string; count: boolean }): Promise<number | undefined> {
    const values: Item = { ":u": S(new Date(this.now()).toISOString()), ":zero": N(0), ":n": N(opts.count ? 1 : 0) };
    let condition = "attribute_exists(activeShard)";
    if (opts.seenUpdatedAt !== undefined) {
      condition += " AND updatedAt = :seen";
      values[":seen"] = S(opts.seenUpdatedAt);
    }
    try {
      const out = await this.db.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: this.key(jobId),
          UpdateExpression: "SET updatedAt = :u, redrives = if_not_exists(redrives, :zero) + :n REMOVE mergeClaim, mergeLeaseUntil, mergeEnqueuedBy",
          ConditionExpression: condition,
          ExpressionAttributeValues: values,
          ReturnValues: "UPDATED_NEW",
        }),
      );
      return num(out.Attributes?.redrives) ?? 0;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return undefined;
      throw e;
    }
  }

  async reopenJob(jobId: string): Promise<boolean> {
    const job = await this.getJob(jobId, { withTasks: true });
    if (job?.status !== "failed" || job.error?.retryable !== true) return false;
    const tasks = job.tasks ?? [];
    // With its plan and every task recorded the job resumes copying; otherwise planning runs
    // again and reuses the recorded plan.
    const status: JobStatus = job.plan && job.taskCount !== undefined && tasks.length >= job.taskCount ? "copying" : "queued";
    const copying = status === "copying";
    // One conditional write, guarded on what the decision read from the job item: still failed
    // with a retryable error (so of two concurrent re-opens one wins) and, to resume copying, the
    // same plan and task count. The failed set goes whole, so a failure recorded after the read
    // cannot stay behind.
    const reopened = await this.applied(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.key(jobId),
        UpdateExpression: `SET #s = :to, activeShard = :shard, updatedAt = :u REMOVE #e, errorRetryable, #ttl, #r, failed, mergeClaim, mergeLeaseUntil, mergeEnqueuedBy`,
        ConditionExpression: `#s = :failed AND errorRetryable = :true${copying ? " AND attribute_exists(#p) AND taskCount = :n" : ""}`,
        ExpressionAttributeNames: { "#s": "status", "#e": "error", "#ttl": "ttl", "#r": "result", ...(copying ? { "#p": "plan" } : {}) },
        ExpressionAttributeValues: {
          ":to": S(status),
          ":shard": activeShard(jobId),
          ":u": S(new Date(this.now()).toISOString()),
          ":failed": S("failed"),
          ":true": { BOOL: true },
          ...(copying ? { ":n": N(job.taskCount ?? 0) } : {}),
        },
      }),
    );
    if (!reopened) return false;
    for (const t of tasks.filter((t) => t.state === "failed")) {
      await this.applied(
        new UpdateItemCommand({
          TableName: this.table,
          Key: this.key(jobId, `TASK#${t.id}`),
          UpdateExpression: "SET #st = :pending",
          ConditionExpression: "#st = :failed",
          ExpressionAttributeNames: { "#st": "state" },
          ExpressionAttributeValues: { ":pending": S("pending"), ":failed": S("failed") },
        }),
      );
    }
    return true;
  }

  async claimTag(key: string, jobId: string, eventTime: number, leaseMs: number): Promise<TagClaim> {
    const now = this.now();
    const acquired = await this.applied(
      new UpdateItemCommand({
        TableName: this.table,
        Key: { pk: S(`TAG#${key}`), sk: S("TAG") },
        UpdateExpression: "SET leaseOwner = :me, leaseUntil = :until",
        ConditionExpression:
          "(attribute_not_exists(eventTime) OR eventTime <= :t) AND (attribute_not_exists(leaseOwner) OR leaseUntil < :now OR leaseOwner = :me)",
        ExpressionAttributeValues: { ":me": S(jobId), ":until": N(now + leaseMs), ":t": N(eventTime), ":now": N(now) },
      }),
    );
    if (acquired) return "acquired";
    const recorded = (await this.getTag(key))?.eventTime;
    return recorded !== undefined && recorded > eventTime ? "superseded" : "busy";
  }

  getCursor(key: string): Promise<string | undefined> {
    return getCursorItem(this.db, this.table, key);
  }

  async putCursor(key: string, value: string | undefined): Promise<void> {
    const Key = { pk: S(`CURSOR#${key}`), sk: S("CURSOR") };
    if (value === undefined) {
      await this.db.send(new DeleteItemCommand({ TableName: this.table, Key }));
      return;
    }
    await this.db.send(new PutItemCommand({ TableName: this.table, Item: { ...Key, value: S(value), updatedAt: S(new Date(this.now()).toISOString()) } }));
  }

  async renewTag(key: string, jobId: string, leaseMs: number): Promise<boolean> {
    return this.applied(
      new UpdateItemCommand({
        TableName: this.table,
        Key: { pk: S(`TAG#${key}`), sk: S("TAG") },
        UpdateExpression: "SET leaseUntil = :until",
        ConditionExpression: "leaseOwner = :me AND leaseUntil >= :now",
        ExpressionAttributeValues: { ":me": S(jobId), ":until": N(this.now() + leaseMs), ":now": N(this.now()) },
      }),
    );
  }

  releaseTag(key: string, jobId: string, eventTime: number, digest: string): Promise<boolean> {
    // Not applied when the lease expired and another job took it: the caller then checks the tag.
    return this.applied(
      new UpdateItemCommand({
        TableName: this.table,
        Key: { pk: S(`TAG#${key}`), sk: S("TAG") },
        UpdateExpression: "SET eventTime = :t, digest = :d, jobId = :me REMOVE leaseOwner, leaseUntil",
        ConditionExpression: "leaseOwner = :me",
        ExpressionAttributeValues: { ":t": N(eventTime), ":d": S(digest), ":me": S(jobId) },
      }),
    );
  }

  async getTag(key: string): Promise<TagRecord | undefined> {
    const out = await this.db.send(new GetItemCommand({ TableName: this.table, Key: { pk: S(`TAG#${key}`), sk: S("TAG") }, ConsistentRead: true }));
    const it = out.Item;
    if (!it) return undefined;
    const rec: TagRecord = {};
    const eventTime = num(it.eventTime);
    if (eventTime !== undefined) rec.eventTime = eventTime;
    if (it.digest?.S) rec.digest = it.digest.S;
    if (it.jobId?.S) rec.jobId = it.jobId.S;
    if (it.leaseOwner?.S) rec.leaseOwner = it.leaseOwner.S;
    const leaseUntil = num(it.leaseUntil);
    if (leaseUntil !== undefined) rec.leaseUntil = leaseUntil;
    return rec;
  }
}

/** Cursor items: `CURSOR#<key>`/`CURSOR`. */
export async function getCursorItem(db: DynamoDBClient, table: string, key: string): Promise<string | undefined> {
  const out = await db.send(new GetItemCommand({ TableName: table, Key: { pk: S(`CURSOR#${key}`), sk: S("CURSOR") }, ConsistentRead: true }));
  return out.Item?.value?.S;
}

const ACTIVE_INDEX = {
  IndexName: "active",
  KeySchema: [
    { AttributeName: "activeShard", KeyType: "HASH" as const },
    { AttributeName: "createdAt", KeyType: "RANGE" as const },
  ],
  Projection: { ProjectionType: "KEYS_ONLY" as const },
};

/** A table made before the reconciler's index existed gets it. */
async function addActiveIndex(db: DynamoDBClient, tableName: string): Promise<void> {
  await db.send(
    new UpdateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [
        { AttributeName: "activeShard", AttributeType: "S" },
        { AttributeName: "createdAt", AttributeType: "S" },
      ],
      GlobalSecondaryIndexUpdates: [{ Create: ACTIVE_INDEX }],
    }),
  );
}

/** Creates the table (and its indexes) when it does not exist: the local runtime and tests. */
export async function ensureTable(db: DynamoDBClient, tableName: string): Promise<void> {
  try {
    const d = await db.send(new DescribeTableCommand({ TableName: tableName }));
    if (!d.Table?.GlobalSecondaryIndexes?.some((i) => i.IndexName === "active")) await addActiveIndex(db, tableName);
    return;
  } catch (e) {
    if (!(e instanceof ResourceNotFoundException)) throw e;
  }
  await db.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [
        { AttributeName: "pk", AttributeType: "S" },
        { AttributeName: "sk", AttributeType: "S" },
        { AttributeName: "gsi1pk", AttributeType: "S" },
        { AttributeName: "gsi1sk", AttributeType: "S" },
        { AttributeName: "activeShard", AttributeType: "S" },
        { AttributeName: "createdAt", AttributeType: "S" },
      ],
      KeySchema: [
        { AttributeName: "pk", KeyType: "HASH" },
        { AttributeName: "sk", KeyType: "RANGE" },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: "gsi1",
          KeySchema: [
            { AttributeName: "gsi1pk", KeyType: "HASH" },
            { AttributeName: "gsi1sk", KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "ALL" },
        },
        {
          ...ACTIVE_INDEX,
        },
      ],
    }),
  );
  for (let i = 0; i < 100; i++) {
    const d = await db.send(new DescribeTableCommand({ TableName: tableName }));
    if (d.Table?.TableStatus === "ACTIVE") return;
    await new Promise((r) => setTimeout(r, 100));
  }
}
