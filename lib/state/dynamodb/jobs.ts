/** Jobs on DynamoDB: the `JOB#<id>/JOB` item and its two indexes (recent jobs, jobs not yet final); every status change is one conditional write. */
import { GetItemCommand, QueryCommand } from "@aws-sdk/client-dynamodb";
import type { ErrorCode } from "../../errors.ts";
import type { ReplicationRequest } from "../../queue/messages.ts";
import { reopenedStatus, updatableFrom } from "../rules.ts";
import { FINAL_STATUSES, type Job, type JobPatch, type JobPlan, type JobRecords, type JobStatus } from "../store.ts";
import { activeEntryFromItem, jobFromItem, newJobItem, recentKeyOf, toItem, toJson } from "./codec.ts";
import { applied, type DynamoTable, putIf, queryAll, stamp, ttlIn, updateIf } from "./context.ts";
import { ACTIVE_PARTITIONS, activeShard, jobKey, RECENT_PARTITIONS, taskKey } from "./table.ts";
import { deleteTasks, readTasks } from "./tasks.ts";

/** The merge claims a redrive or a re-open clears, so re-sent work can run. */
const MERGE_CLAIMS = "mergeClaim, mergeLeaseUntil, mergeEnqueuedBy";

export class DynamoJobs implements JobRecords {
  private readonly t: DynamoTable;

  constructor(t: DynamoTable) {
    this.t = t;
  }

  createJob(job: { id: string; request: ReplicationRequest }): Promise<boolean> {
    return putIf(this.t, newJobItem(job.id, job.request, stamp(this.t)), "attribute_not_exists(pk)");
  }

  async getJob(id: string, opts: { withTasks?: boolean } = {}): Promise<Job | undefined> {
    const out = await this.t.db.send(new GetItemCommand({ TableName: this.t.name, Key: jobKey(id), ConsistentRead: true }));
    if (!out.Item) return undefined;
    const job = jobFromItem(out.Item);
    if (opts.withTasks) job.tasks = await readTasks(this.t, id, job);
    return job;
  }

  async listJobs(limit: number): Promise<Job[]> {
    // The newest `limit` of each shard, merged.
    const pages = await Promise.all(
      RECENT_PARTITIONS.map((p) =>
        this.t.db.send(
          new QueryCommand({
            TableName: this.t.name,
            IndexName: "gsi1",
            KeyConditionExpression: "gsi1pk = :p",
            ExpressionAttributeValues: toItem({ ":p": p }),
            ScanIndexForward: false,
            Limit: limit,
          }),
        ),
      ),
    );
    return pages
      .flatMap((out) => out.Items ?? [])
      .sort((a, b) => recentKeyOf(b).localeCompare(recentKeyOf(a)))
      .slice(0, limit)
      .map(jobFromItem);
  }

  async listActive(opts: { limit?: number } = {}): Promise<Array<{ id: string; createdAt: string }>> {
    const { limit } = opts;
    const query = { IndexName: "active", KeyConditionExpression: "activeShard = :s" };
    // With a limit, each partition's oldest `limit` (the index sorts by createdAt): one page each.
    const shards = await Promise.all(
      ACTIVE_PARTITIONS.map(async (s) => {
        const input = { ...query, ExpressionAttributeValues: toItem({ ":s": s }) };
        if (limit === undefined) return queryAll(this.t, input);
        return (await this.t.db.send(new QueryCommand({ TableName: this.t.name, ...input, Limit: limit }))).Items ?? [];
      }),
    );
    return shards
      .flat()
      .map(activeEntryFromItem)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
      .slice(0, limit);
  }

  async touchJob(id: string): Promise<void> {
    await applied(this.t, { key: jobKey(id), update: "SET updatedAt = :u", condition: "attribute_exists(activeShard)", values: { ":u": stamp(this.t) } });
  }

  recordPlan(id: string, plan: JobPlan, taskCount: number): Promise<boolean> {
    return applied(this.t, {
      key: jobKey(id),
      update: "SET #p = :p, taskCount = :n, updatedAt = :u, #s = :planning",
      condition: "attribute_not_exists(#p) AND #s IN (:queued, :planning)",
      names: { "#p": "plan", "#s": "status" },
      values: { ":p": toJson(plan), ":n": taskCount, ":u": stamp(this.t), ":planning": "planning", ":queued": "queued" },
    });
  }

  async updateJob(id: string, patch: JobPatch, from?: readonly JobStatus[]): Promise<boolean> {
    const allowed = updatableFrom(patch, from);
    if (allowed.length === 0) return false;
    // Every attribute goes through a name placeholder: several (status, plan, result, error,
    // ttl) are DynamoDB reserved words, and DynamoDB rejects placeholders an expression omits.
    const names: Record<string, string> = { "#status": "status" };
    const values: Record<string, string | number | boolean> = {};
    const sets: string[] = [];
    const removes: string[] = [];
    const set = (attr: string, value: string | number | boolean) => {
      const i = sets.length;
      names[`#a${i}`] = attr;
      values[`:v${i}`] = value;
      sets.push(`#a${i} = :v${i}`);
    };
    set("updatedAt", stamp(this.t));
    if (patch.status) {
      set("status", patch.status);
      if (FINAL_STATUSES.includes(patch.status)) {
        set("ttl", ttlIn(this.t, this.t.ttlDays));
        removes.push("activeShard"); // leaves the reconciler's index
      }
    }
    if (patch.plan) set("plan", toJson(patch.plan));
    if (patch.taskCount !== undefined) set("taskCount", patch.taskCount);
    if (patch.result) set("result", toJson(patch.result));
    if (patch.error !== undefined) {
      set("error", toJson(patch.error));
      set("errorRetryable", patch.error.retryable);
      set("errorCode", patch.error.code); // what `requeueJob`'s condition tests (the error is JSON)
    }
    allowed.forEach((s, i) => {
      values[`:f${i}`] = s;
    });
    return applied(this.t, {
      key: jobKey(id),
      update: `SET ${sets.join(", ")}${removes.length ? ` REMOVE ${removes.join(", ")}` : ""}`,
      condition: `attribute_exists(pk) AND #status IN (${allowed.map((_, i) => `:f${i}`).join(", ")})`,
      names,
      values,
    });
  }

  async redriveJob(jobId: string, opts: { seenUpdatedAt?: string; count: boolean }): Promise<number | undefined> {
    const out = await updateIf(this.t, {
      key: jobKey(jobId),
      update: `SET updatedAt = :u, redrives = if_not_exists(redrives, :zero) + :n REMOVE ${MERGE_CLAIMS}`,
      condition: opts.seenUpdatedAt === undefined ? "attribute_exists(activeShard)" : "attribute_exists(activeShard) AND updatedAt = :seen",
      values: { ":u": stamp(this.t), ":zero": 0, ":n": opts.count ? 1 : 0, ":seen": opts.seenUpdatedAt },
      returnValues: "UPDATED_NEW",
    });
    return out && (jobFromItem(out).redrives ?? 0);
  }

  async reopenJob(jobId: string): Promise<boolean> {
    const job = await this.getJob(jobId, { withTasks: true });
    if (job?.status !== "failed" || job.error?.retryable !== true) return false;
    const tasks = job.tasks ?? [];
    const status = reopenedStatus(job, tasks.length);
    // One conditional write, guarded on what the decision read from the job item: still failed
    // with a retryable error (so of two concurrent re-opens one wins) and, to resume copying, the
    // same plan and task count. The failed set goes whole, so a failure recorded after the read
    // cannot stay behind.
    const reopened = await applied(this.t, {
      key: jobKey(jobId),
      update: `SET #s = :to, activeShard = :shard, updatedAt = :u REMOVE #e, errorRetryable, errorCode, #ttl, #r, failed, ${MERGE_CLAIMS}`,
      condition: `#s = :failed AND errorRetryable = :true${status === "copying" ? " AND attribute_exists(#p) AND taskCount = :n" : ""}`,
      names: { "#s": "status", "#e": "error", "#ttl": "ttl", "#r": "result", ...(status === "copying" ? { "#p": "plan" } : {}) },
      values: {
        ":to": status,
        ":shard": activeShard(jobId),
        ":u": stamp(this.t),
        ":failed": "failed",
        ":true": true,
        ":n": status === "copying" ? job.taskCount : undefined,
      },
    });
    if (!reopened) return false;
    for (const task of tasks.filter((x) => x.state === "failed")) {
      await applied(this.t, {
        key: taskKey(jobId, task.id),
        update: "SET #st = :pending",
        condition: "#st = :failed",
        names: { "#st": "state" },
        values: { ":pending": "pending", ":failed": "failed" },
      });
    }
    return true;
  }

  async requeueJob(jobId: string, codes: readonly ErrorCode[]): Promise<boolean> {
    const listed = [...new Set(codes)];
    if (listed.length === 0) return false;
    const values: Record<string, string> = { ":queued": "queued", ":failed": "failed", ":shard": activeShard(jobId), ":u": stamp(this.t) };
    listed.forEach((code, i) => {
      values[`:c${i}`] = code;
    });
    // One conditional write on the status and the code: of two concurrent requeues one wins. A
    // failure recorded before `errorCode` was written has none, and is not requeued.
    const requeued = await applied(this.t, {
      key: jobKey(jobId),
      update: `SET #s = :queued, activeShard = :shard, updatedAt = :u REMOVE #p, taskCount, done, failed, #r, #e, errorRetryable, errorCode, #ttl, ${MERGE_CLAIMS}`,
      condition: `#s = :failed AND errorCode IN (${listed.map((_, i) => `:c${i}`).join(", ")})`,
      names: { "#s": "status", "#p": "plan", "#r": "result", "#e": "error", "#ttl": "ttl" },
      values,
    });
    if (requeued) await deleteTasks(this.t, jobId);
    return requeued;
  }
}
