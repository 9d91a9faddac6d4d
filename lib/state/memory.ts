/**
 * The job store in memory: the same semantics as the DynamoDB adapter (`dynamodb.ts`), write for
 * write, so use-case tests and `--in-memory` runs need no DynamoDB stand-in. It passes the same
 * job-store and recovery suites. Nothing survives the process; it is not wired into `ferry serve`.
 *
 * Every DynamoDB conditional write becomes a check and a write with no `await` between them, so
 * each is atomic here as it is there. What the adapter keeps as JSON (request, plan, result,
 * errors) goes in through a JSON round-trip, as it does there, and every value comes out as a
 * copy: a caller can never reach stored state.
 */
import { type ErrorRecord, FerryError } from "../errors.ts";
import type { ReplicationRequest } from "../queue/messages.ts";
import {
  FINAL_STATUSES,
  type Job,
  type JobPatch,
  type JobPlan,
  type JobResult,
  type JobStatus,
  type JobStore,
  type TagClaim,
  type TagRecord,
  type Task,
  type TaskCompletion,
} from "./store.ts";
import { updatableFrom } from "./rules.ts";

/** The job item: what `JOB#<id>/JOB` holds in DynamoDB, attribute for attribute. */
interface JobItem {
  id: string;
  status: JobStatus;
  request: ReplicationRequest;
  createdAt: string;
  updatedAt: string;
  plan?: JobPlan;
  taskCount?: number;
  /** String sets: adding an id twice counts once. */
  done: Set<string>;
  failed: Set<string>;
  result?: JobResult;
  error?: ErrorRecord;
  errorRetryable?: boolean;
  mergeRuns?: number;
  redrives?: number;
  /** Epoch seconds after which the job is dropped (set on final statuses). */
  ttl?: number;
  /** Carries `activeShard` in DynamoDB: listed for the reconciler. */
  active: boolean;
  mergeEnqueuedBy?: string;
  mergeClaim?: string;
  mergeLeaseUntil?: number;
}

/** The tag item: `TAG#<dst:tag>/TAG`. */
interface TagItem {
  eventTime?: number;
  digest?: string;
  jobId?: string;
  leaseOwner?: string;
  leaseUntil?: number;
}

/** Stores a value as DynamoDB does (a JSON attribute): undefined fields gone, a copy. */
const asJson = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** Sort-key order (code units; DynamoDB uses UTF-8 bytes, the same for the ids ferry makes). */
const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export interface MemoryJobStoreOptions {
  /** Days a finished job is kept before it is dropped. */
  ttlDays?: number;
  now?: () => number;
}

/** A `JobStore` held in this process, with the DynamoDB adapter's semantics; state dies with it. */
export class MemoryJobStore implements JobStore {
  private readonly ttlDays: number;
  private readonly now: () => number;
  private readonly jobs = new Map<string, JobItem>();
  /** Task items per job id; like DynamoDB's, they may exist before (or without) their job. */
  private readonly tasks = new Map<string, Map<string, Task>>();
  private readonly tags = new Map<string, TagItem>();
  private readonly cursors = new Map<string, string>();

  constructor(opts: MemoryJobStoreOptions = {}) {
    this.ttlDays = opts.ttlDays ?? 14;
    this.now = opts.now ?? (() => Date.now());
  }

  private stamp(): string {
    return new Date(this.now()).toISOString();
  }

  /**
   * The job item, unless its TTL has passed: then it is dropped with its tasks (DynamoDB drops
   * it some time after; dropping at once keeps a long `--in-memory` run bounded).
   */
  private item(id: string): JobItem | undefined {
    const it = this.jobs.get(id);
    if (it?.ttl !== undefined && it.ttl * 1000 <= this.now()) {
      this.jobs.delete(id);
      this.tasks.delete(id);
      return undefined;
    }
    return it;
  }

  /** The epoch second at which a finished job will be dropped; undefined while it is not final. */
  expiresAt(jobId: string): number | undefined {
    return this.item(jobId)?.ttl;
  }

  async createJob(job: { id: string; request: ReplicationRequest }): Promise<boolean> {
    if (this.item(job.id)) return false;
    const at = this.stamp();
    this.jobs.set(job.id, {
      id: job.id,
      status: "queued",
      request: asJson(job.request),
      createdAt: at,
      updatedAt: at,
      done: new Set(),
      failed: new Set(),
      active: true,
    });
    return true;
  }

  private toJob(it: JobItem): Job {
    const job: Job = {
      id: it.id,
      status: it.status,
      request: structuredClone(it.request),
      createdAt: it.createdAt,
      updatedAt: it.updatedAt,
      done: [...it.done],
      failed: [...it.failed],
    };
    if (it.plan) job.plan = structuredClone(it.plan);
    if (it.taskCount !== undefined) job.taskCount = it.taskCount;
    if (it.result) job.result = structuredClone(it.result);
    if (it.error) job.error = structuredClone(it.error);
    if (it.mergeRuns !== undefined) job.mergeRuns = it.mergeRuns;
    if (it.redrives !== undefined) job.redrives = it.redrives;
    return job;
  }

  private taskList(jobId: string): Task[] {
    const tasks = [...(this.tasks.get(jobId)?.values() ?? [])];
    return tasks.sort((a, b) => byKey(a.id, b.id)).map((t) => structuredClone(t));
  }

  async getJob(id: string, opts: { withTasks?: boolean } = {}): Promise<Job | undefined> {
    const it = this.item(id);
    if (!it) return undefined;
    const job = this.toJob(it);
    if (opts.withTasks) job.tasks = this.taskList(id);
    return job;
  }

  async listJobs(limit: number): Promise<Job[]> {
    const live = [...this.jobs.keys()].map((id) => this.item(id)).filter((it): it is JobItem => it !== undefined);
    // gsi1: `createdAt#id`, newest first.
    return live
      .sort((a, b) => byKey(`${b.createdAt}#${b.id}`, `${a.createdAt}#${a.id}`))
      .slice(0, limit)
      .map((it) => this.toJob(it));
  }

  async listActive(): Promise<Array<{ id: string; createdAt: string }>> {
    return [...this.jobs.values()]
      .filter((it) => it.active)
      .map((it) => ({ id: it.id, createdAt: it.createdAt }))
      .sort((a, b) => byKey(a.createdAt, b.createdAt) || byKey(a.id, b.id));
  }

  async touchJob(id: string): Promise<void> {
    const it = this.item(id);
    if (it?.active) it.updatedAt = this.stamp();
  }

  async recordPlan(id: string, plan: JobPlan, taskCount: number): Promise<boolean> {
    const it = this.item(id);
    if (!it || it.plan || (it.status !== "queued" && it.status !== "planning")) return false;
    it.plan = asJson(plan);
    it.taskCount = taskCount;
    it.updatedAt = this.stamp();
    it.status = "planning";
    return true;
  }

  async updateJob(id: string, patch: JobPatch, from?: readonly JobStatus[]): Promise<boolean> {
    const it = this.item(id);
    if (!it || !updatableFrom(patch, from).includes(it.status)) return false;
    it.updatedAt = this.stamp();
    if (patch.status) {
      it.status = patch.status;
      if (FINAL_STATUSES.includes(patch.status)) {
        it.ttl = Math.floor(this.now() / 1000) + this.ttlDays * 86400;
        it.active = false; // leaves the reconciler's index
      }
    }
    if (patch.plan) it.plan = asJson(patch.plan);
    if (patch.taskCount !== undefined) it.taskCount = patch.taskCount;
    if (patch.result) it.result = asJson(patch.result);
    if (patch.error !== undefined) {
      it.error = asJson(patch.error);
      it.errorRetryable = patch.error.retryable;
    }
    return true;
  }

  async putTasks(jobId: string, tasks: Task[]): Promise<void> {
    let items = this.tasks.get(jobId);
    if (!items) {
      items = new Map();
      this.tasks.set(jobId, items);
    }
    // A put replaces the task item whole: only these fields are written (no error, no attempts).
    for (const t of tasks) {
      items.set(t.id, { id: t.id, platform: t.platform, digest: t.digest, mediaType: t.mediaType, size: t.size, destination: t.destination, state: t.state });
    }
  }

  async completeTask(jobId: string, taskId: string, outcome: { state: "done" | "failed"; error?: ErrorRecord }): Promise<TaskCompletion> {
    // The task (for display): a failure never overwrites a success.
    const task = this.tasks.get(jobId)?.get(taskId);
    if (task && (outcome.state === "done" || task.state !== "done")) {
      task.state = outcome.state;
      if (outcome.error) task.error = asJson(outcome.error);
      else delete task.error;
    }
    // The job: adding to a set is idempotent, so a redelivered completion counts once.
    const it = this.item(jobId);
    if (!it) throw new FerryError("NOT_FOUND", `job ${jobId} does not exist`);
    (outcome.state === "done" ? it.done : it.failed).add(taskId);
    it.updatedAt = this.stamp();
    const failed = [...it.failed].filter((t) => !it.done.has(t)).length;
    const total = it.taskCount ?? Number.POSITIVE_INFINITY;
    return { done: it.done.size, failed, total, complete: it.done.size + failed >= total };
  }

  async noteTaskAttempt(jobId: string, taskId: string, error: ErrorRecord): Promise<void> {
    const task = this.tasks.get(jobId)?.get(taskId);
    if (!task) return;
    task.error = asJson(error);
    task.attempts = (task.attempts ?? 0) + 1;
  }

  async claimMergeEnqueue(jobId: string, taskId: string): Promise<boolean> {
    const it = this.item(jobId);
    if (!it || (it.mergeEnqueuedBy !== undefined && it.mergeEnqueuedBy !== taskId)) return false;
    it.mergeEnqueuedBy = taskId;
    return true;
  }

  async claimMerge(jobId: string, claimant: string, leaseMs: number): Promise<boolean> {
    const now = this.now();
    const it = this.item(jobId);
    if (!it || (it.status !== "copying" && it.status !== "merging")) return false;
    // A claim whose lease has run out may be taken (DynamoDB: `mergeLeaseUntil < :now`).
    const free = it.mergeClaim === undefined || it.mergeClaim === claimant || (it.mergeLeaseUntil !== undefined && it.mergeLeaseUntil < now);
    if (!free) return false;
    it.mergeClaim = claimant;
    it.mergeLeaseUntil = now + leaseMs;
    it.status = "merging";
    it.updatedAt = new Date(now).toISOString();
    it.mergeRuns = (it.mergeRuns ?? 0) + 1;
    return true;
  }

  async releaseMerge(jobId: string, claimant: string): Promise<void> {
    const it = this.item(jobId);
    if (it?.mergeClaim !== claimant) return;
    delete it.mergeClaim;
    delete it.mergeLeaseUntil;
  }

  async redriveJob(jobId: string, opts: { seenUpdatedAt?: string; count: boolean }): Promise<number | undefined> {
    const it = this.item(jobId);
    if (!it?.active || (opts.seenUpdatedAt !== undefined && it.updatedAt !== opts.seenUpdatedAt)) return undefined;
    it.updatedAt = this.stamp();
    it.redrives = (it.redrives ?? 0) + (opts.count ? 1 : 0);
    delete it.mergeClaim;
    delete it.mergeLeaseUntil;
    delete it.mergeEnqueuedBy;
    return it.redrives;
  }

  async reopenJob(jobId: string): Promise<boolean> {
    const it = this.item(jobId);
    // DynamoDB checks the parsed error and the stored `errorRetryable`; both come from the same patch.
    if (it?.status !== "failed" || it.error?.retryable !== true || it.errorRetryable !== true) return false;
    const tasks = [...(this.tasks.get(jobId)?.values() ?? [])];
    // With its plan and every task recorded the job resumes copying; otherwise planning runs
    // again and reuses the recorded plan.
    it.status = it.plan && it.taskCount !== undefined && tasks.length >= it.taskCount ? "copying" : "queued";
    it.active = true;
    it.updatedAt = this.stamp();
    delete it.error;
    delete it.errorRetryable;
    delete it.ttl;
    delete it.result;
    delete it.mergeClaim;
    delete it.mergeLeaseUntil;
    delete it.mergeEnqueuedBy;
    it.failed.clear();
    for (const t of tasks) if (t.state === "failed") t.state = "pending";
    return true;
  }

  async claimTag(key: string, jobId: string, eventTime: number, leaseMs: number): Promise<TagClaim> {
    const now = this.now();
    const tag = this.tags.get(key) ?? {};
    const notNewer = tag.eventTime === undefined || tag.eventTime <= eventTime;
    const free = tag.leaseOwner === undefined || (tag.leaseUntil !== undefined && tag.leaseUntil < now) || tag.leaseOwner === jobId;
    if (notNewer && free) {
      this.tags.set(key, { ...tag, leaseOwner: jobId, leaseUntil: now + leaseMs });
      return "acquired";
    }
    return tag.eventTime !== undefined && tag.eventTime > eventTime ? "superseded" : "busy";
  }

  async renewTag(key: string, jobId: string, leaseMs: number): Promise<boolean> {
    const tag = this.tags.get(key);
    if (tag?.leaseOwner !== jobId || tag.leaseUntil === undefined || tag.leaseUntil < this.now()) return false;
    tag.leaseUntil = this.now() + leaseMs;
    return true;
  }

  async releaseTag(key: string, jobId: string, eventTime: number, digest: string): Promise<boolean> {
    // Not applied when the lease expired and another job took it: the caller then checks the tag.
    const tag = this.tags.get(key);
    if (tag?.leaseOwner !== jobId) return false;
    this.tags.set(key, { eventTime, digest, jobId });
    return true;
  }

  async getTag(key: string): Promise<TagRecord | undefined> {
    const tag = this.tags.get(key);
    if (!tag) return undefined;
    const rec: TagRecord = {};
    if (tag.eventTime !== undefined) rec.eventTime = tag.eventTime;
    if (tag.digest) rec.digest = tag.digest;
    if (tag.jobId) rec.jobId = tag.jobId;
    if (tag.leaseOwner) rec.leaseOwner = tag.leaseOwner;
    if (tag.leaseUntil !== undefined) rec.leaseUntil = tag.leaseUntil;
    return rec;
  }

  async getCursor(key: string): Promise<string | undefined> {
    return this.cursors.get(key);
  }

  async putCursor(key: string, value: string | undefined): Promise<void> {
    if (value === undefined) this.cursors.delete(key);
    else this.cursors.set(key, value);
  }
}
