/**
 * Items ↔ ferry's values, with the SDK's marshalling. The stored format is fixed (tables written
 * before read the same): request, plan, result and errors are JSON in string attributes (not
 * maps), task outcomes string sets, times and counts numbers, and an absent value no attribute.
 */
import type { ErrorRecord } from "../../errors.ts";
import type { ReplicationRequest } from "../../queue/messages.ts";
import type { Job, JobStatus, TagRecord, Task } from "../store.ts";
import { type NativeAttributeValue, marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { activeShard, type Item, JOB_PREFIX, jobKey, recentShard, taskKey } from "./table.ts";

/** Attributes (or expression values) as an item; undefined ones are left out, never written. */
export const toItem = (values: Record<string, NativeAttributeValue>): Item => marshall(values, { removeUndefinedValues: true });

/** A value kept as a JSON string attribute. */
export const toJson = (value: unknown): string => JSON.stringify(value);
const fromJson = <T>(s: string | undefined): T | undefined => (s ? (JSON.parse(s) as T) : undefined);

/** An error attribute: a JSON record (a plain string from before records had codes). */
const errorFrom = (s: string | undefined): ErrorRecord | undefined =>
  s === undefined ? undefined : s.startsWith("{") ? (JSON.parse(s) as ErrorRecord) : { code: "INTERNAL", message: s, retryable: false };

/** The job item's attributes as `unmarshall` gives them. */
interface JobRow {
  pk?: string;
  id?: string;
  status?: string;
  request?: string;
  createdAt?: string;
  updatedAt?: string;
  gsi1sk?: string;
  plan?: string;
  taskCount?: number;
  done?: Set<string>;
  failed?: Set<string>;
  result?: string;
  error?: string;
  mergeRuns?: number;
  redrives?: number;
}

/** The item of a job just created: queued, listed as recent and as not yet final. */
export function newJobItem(id: string, request: ReplicationRequest, at: string): Item {
  return {
    ...jobKey(id),
    ...toItem({
      id,
      status: "queued",
      request: toJson(request),
      createdAt: at,
      updatedAt: at,
      gsi1pk: recentShard(id),
      gsi1sk: `${at}#${id}`,
      activeShard: activeShard(id),
    }),
  };
}

export function jobFromItem(item: Item): Job {
  const r = unmarshall(item) as JobRow;
  const job: Job = {
    id: r.id ?? "",
    status: (r.status ?? "queued") as JobStatus,
    request: fromJson<ReplicationRequest>(r.request) as ReplicationRequest,
    createdAt: r.createdAt ?? "",
    updatedAt: r.updatedAt ?? "",
    done: [...(r.done ?? [])],
    failed: [...(r.failed ?? [])],
  };
  const plan = fromJson<Job["plan"]>(r.plan);
  if (plan) job.plan = plan;
  if (r.taskCount !== undefined) job.taskCount = r.taskCount;
  const result = fromJson<Job["result"]>(r.result);
  if (result) job.result = result;
  const error = errorFrom(r.error);
  if (error) job.error = error;
  if (r.mergeRuns !== undefined) job.mergeRuns = r.mergeRuns;
  if (r.redrives !== undefined) job.redrives = r.redrives;
  return job;
}

/** A key-only entry of the `active` index: the job's id and creation time. */
export function activeEntryFromItem(item: Item): { id: string; createdAt: string } {
  const r = unmarshall(item) as JobRow;
  return { id: (r.pk ?? "").slice(JOB_PREFIX.length), createdAt: r.createdAt ?? "" };
}

/** The `gsi1` sort key (`createdAt#id`) of a listed job item. */
export const recentKeyOf = (item: Item): string => (unmarshall(item) as JobRow).gsi1sk ?? "";

/** The task item's attributes as `unmarshall` gives them. */
interface TaskRow {
  taskId?: string;
  platform?: string;
  digest?: string;
  mediaType?: string;
  size?: number;
  destination?: string;
  state?: string;
  error?: string;
  attempts?: number;
}

/** A task item as `putTasks` writes it (whole: no error, no attempts), expiring at `ttl`. */
export function taskItem(jobId: string, t: Task, ttl: number): Item {
  const { id, platform, digest, mediaType, size, destination, state } = t;
  return { ...taskKey(jobId, id), ...toItem({ taskId: id, platform, digest, mediaType, size, destination, state, ttl }) };
}

export function taskFromItem(item: Item): Task {
  const r = unmarshall(item) as TaskRow;
  const t: Task = {
    id: r.taskId ?? "",
    platform: r.platform ?? "",
    digest: r.digest ?? "",
    mediaType: r.mediaType ?? "",
    size: r.size ?? 0,
    destination: r.destination ?? "",
    state: (r.state ?? "pending") as Task["state"],
  };
  const error = errorFrom(r.error);
  if (error) t.error = error;
  if (r.attempts !== undefined) t.attempts = r.attempts;
  return t;
}

export function tagFromItem(item: Item): TagRecord {
  const r = unmarshall(item) as TagRecord;
  const rec: TagRecord = {};
  if (r.eventTime !== undefined) rec.eventTime = r.eventTime;
  if (r.digest) rec.digest = r.digest;
  if (r.jobId) rec.jobId = r.jobId;
  if (r.leaseOwner) rec.leaseOwner = r.leaseOwner;
  if (r.leaseUntil !== undefined) rec.leaseUntil = r.leaseUntil;
  return rec;
}
