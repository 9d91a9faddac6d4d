/** Tasks on DynamoDB: one item per task, each outcome counted once on the job item's string sets; who enqueues the merge is one conditional write. */
import { BatchWriteItemCommand, type WriteRequest } from "@aws-sdk/client-dynamodb";
import { type ErrorRecord, FerryError } from "../../errors.ts";
import { taskCompletion } from "../rules.ts";
import type { Task, TaskCompletion, TaskRecords } from "../store.ts";
import { jobFromItem, taskFromItem, taskItem, toItem, toJson } from "./codec.ts";
import { applied, type DynamoTable, queryAll, stamp, ttlIn, updateIf } from "./context.ts";
import { jobKey, jobPk, taskKey } from "./table.ts";

/** Batch writes of one page of tasks before unprocessed items are an error (about 5 s of back-off). */
export const BATCH_WRITE_ATTEMPTS = 8;
/** Items in one BatchWriteItem (DynamoDB's limit). */
const BATCH_SIZE = 25;

/**
 * Sends `requests` (at most `BATCH_SIZE`) as one batch write. Unprocessed items come back under
 * throttling: send them again, a bounded number of times (then the caller's delivery fails and
 * SQS brings it back; writing and deleting task items are idempotent).
 */
async function writeBatch(t: DynamoTable, requests: WriteRequest[]): Promise<void> {
  let pending = requests;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt === BATCH_WRITE_ATTEMPTS) {
      throw new FerryError("INTERNAL", `${pending.length} task items still unprocessed after ${attempt} batch writes (throttled)`, { retryable: true });
    }
    const out = await t.db.send(new BatchWriteItemCommand({ RequestItems: { [t.name]: pending } }));
    pending = out.UnprocessedItems?.[t.name] ?? [];
    if (pending.length > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
  }
}

/** Sends `requests` in batches of `BATCH_SIZE`, one after another. */
async function writeBatches(t: DynamoTable, requests: WriteRequest[]): Promise<void> {
  for (let i = 0; i < requests.length; i += BATCH_SIZE) await writeBatch(t, requests.slice(i, i + BATCH_SIZE));
}

/** Deletes every task item of a job (a requeued job plans afresh). */
export async function deleteTasks(t: DynamoTable, jobId: string): Promise<void> {
  const keys = await queryAll(t, {
    KeyConditionExpression: "pk = :pk AND begins_with(sk, :t)",
    ExpressionAttributeValues: toItem({ ":pk": jobPk(jobId), ":t": "TASK#" }),
    ProjectionExpression: "pk, sk",
    ConsistentRead: true,
  });
  await writeBatches(
    t,
    keys.map((key) => ({ DeleteRequest: { Key: key } })),
  );
}

/** Every task item of a job, in task-id order. */
export async function readTasks(t: DynamoTable, jobId: string, sets: { done: string[]; failed: string[] }): Promise<Task[]> {
  const items = await queryAll(t, {
    KeyConditionExpression: "pk = :pk AND begins_with(sk, :t)",
    ExpressionAttributeValues: toItem({ ":pk": jobPk(jobId), ":t": "TASK#" }),
    ConsistentRead: true,
  });
  return withOutcomes(items.map(taskFromItem), sets);
}

/**
 * Task states as the job's sets have them: in `done` is done (a success is written to the job
 * only, and wins over a late failure), else in `failed` is failed.
 */
function withOutcomes(tasks: Task[], sets: { done: string[]; failed: string[] }): Task[] {
  const done = new Set(sets.done);
  const failed = new Set(sets.failed);
  return tasks.map((task) => {
    if (done.has(task.id)) {
      const { error: _, ...rest } = task;
      return { ...rest, state: "done" };
    }
    return failed.has(task.id) ? { ...task, state: "failed" } : task;
  });
}

export class DynamoTasks implements TaskRecords {
  private readonly t: DynamoTable;

  constructor(t: DynamoTable) {
    this.t = t;
  }

  async putTasks(jobId: string, tasks: Task[]): Promise<void> {
    // Task items carry a TTL too, a day past the earliest their job can expire, so DynamoDB's TTL
    // removes them with their job rather than never (a job lives hours; the reconciler ends one that stops).
    const ttl = ttlIn(this.t, this.t.ttlDays + 1);
    await writeBatches(
      this.t,
      tasks.map((task) => ({ PutRequest: { Item: taskItem(jobId, task, ttl) } })),
    );
  }

  async completeTask(jobId: string, taskId: string, outcome: { state: "done" | "failed"; error?: ErrorRecord }): Promise<TaskCompletion> {
    // The job's sets are the truth (readers show a task in `done` as done, even after a late
    // failure: see `withOutcomes`): a success writes only them; a failure also writes its error on
    // the task item, at once with the job, and the caller acts on the count only after both landed.
    const failed = outcome.state === "failed";
    const taskWritten = !failed
      ? Promise.resolve(true)
      : applied(this.t, {
          key: taskKey(jobId, taskId),
          update: outcome.error ? "SET #st = :s, #e = :e" : "SET #st = :s REMOVE #e",
          condition: "attribute_exists(pk)",
          names: { "#st": "state", "#e": "error" },
          values: { ":s": outcome.state, ":e": outcome.error && toJson(outcome.error) },
        });
    // The job: ADD to a string set is idempotent, so a redelivered completion counts once.
    const jobWritten = updateIf(this.t, {
      key: jobKey(jobId),
      update: `ADD ${failed ? "failed" : "done"} :t SET updatedAt = :u`,
      condition: "attribute_exists(pk)",
      values: { ":t": new Set([taskId]), ":u": stamp(this.t) },
      returnValues: "ALL_NEW",
    });
    const [, job] = await Promise.all([taskWritten, jobWritten]);
    if (!job) throw new FerryError("NOT_FOUND", `job ${jobId} does not exist`);
    const { done, failed: failedIds, taskCount } = jobFromItem(job);
    return taskCompletion(done, failedIds, taskCount);
  }

  async noteTaskAttempt(jobId: string, taskId: string, error: ErrorRecord): Promise<void> {
    await applied(this.t, {
      key: taskKey(jobId, taskId),
      update: "SET #e = :e ADD attempts :one",
      condition: "attribute_exists(pk)",
      names: { "#e": "error" },
      values: { ":e": toJson(error), ":one": 1 },
    });
  }

  claimMergeEnqueue(jobId: string, taskId: string): Promise<boolean> {
    return applied(this.t, {
      key: jobKey(jobId),
      update: "SET mergeEnqueuedBy = :t",
      condition: "attribute_exists(pk) AND (attribute_not_exists(mergeEnqueuedBy) OR mergeEnqueuedBy = :t)",
      values: { ":t": taskId },
    });
  }
}
