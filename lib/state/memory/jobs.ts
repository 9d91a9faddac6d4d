/** Jobs in memory: the job items, with the DynamoDB adapter's conditions checked and applied with no `await` between, so each write is atomic as there. */
import type { ErrorCode } from "../../errors.ts";
import type { ReplicationRequest } from "../../queue/messages.ts";
import { reopenedStatus, updatableFrom } from "../rules.ts";
import { FINAL_STATUSES, type Job, type JobPatch, type JobPlan, type JobRecords, type JobStatus } from "../store.ts";
import { asJson, byKey, type JobItem, type MemoryTables } from "./tables.ts";

/** The job a caller sees: a copy of the item. */
function toJob(it: JobItem): Job {
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

export class MemoryJobs implements JobRecords {
  private readonly m: MemoryTables;

  constructor(m: MemoryTables) {
    this.m = m;
  }

  async createJob(job: { id: string; request: ReplicationRequest }): Promise<boolean> {
    if (this.m.job(job.id)) return false;
    const at = this.m.stamp();
    this.m.jobs.set(job.id, {
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

  async getJob(id: string, opts: { withTasks?: boolean } = {}): Promise<Job | undefined> {
    const it = this.m.job(id);
    if (!it) return undefined;
    const job = toJob(it);
    if (opts.withTasks) job.tasks = this.m.taskItems(id).map((t) => structuredClone(t));
    return job;
  }

  async listJobs(limit: number): Promise<Job[]> {
    // gsi1: `createdAt#id`, newest first.
    return this.m
      .liveJobs()
      .sort((a, b) => byKey(`${b.createdAt}#${b.id}`, `${a.createdAt}#${a.id}`))
      .slice(0, limit)
      .map(toJob);
  }

  async listActive(opts: { limit?: number } = {}): Promise<Array<{ id: string; createdAt: string }>> {
    return [...this.m.jobs.values()]
      .filter((it) => it.active)
      .map((it) => ({ id: it.id, createdAt: it.createdAt }))
      .sort((a, b) => byKey(a.createdAt, b.createdAt) || byKey(a.id, b.id))
      .slice(0, opts.limit);
  }

  async touchJob(id: string): Promise<void> {
    const it = this.m.job(id);
    if (it?.active) it.updatedAt = this.m.stamp();
  }

  async recordPlan(id: string, plan: JobPlan, taskCount: number): Promise<boolean> {
    const it = this.m.job(id);
    if (!it || it.plan || (it.status !== "queued" && it.status !== "planning")) return false;
    it.plan = asJson(plan);
    it.taskCount = taskCount;
    it.updatedAt = this.m.stamp();
    it.status = "planning";
    return true;
  }

  async updateJob(id: string, patch: JobPatch, from?: readonly JobStatus[]): Promise<boolean> {
    const it = this.m.job(id);
    if (!it || !updatableFrom(patch, from).includes(it.status)) return false;
    it.updatedAt = this.m.stamp();
    if (patch.status) {
      it.status = patch.status;
      if (FINAL_STATUSES.includes(patch.status)) {
        it.ttl = Math.floor(this.m.now() / 1000) + this.m.ttlDays * 86400;
        it.active = false; // leaves the reconciler's index
      }
    }
    if (patch.plan) it.plan = asJson(patch.plan);
    if (patch.taskCount !== undefined) it.taskCount = patch.taskCount;
    if (patch.result) it.result = asJson(patch.result);
    if (patch.error !== undefined) {
      it.error = asJson(patch.error);
      it.errorRetryable = patch.error.retryable;
      it.errorCode = patch.error.code;
    }
    return true;
  }

  async redriveJob(jobId: string, opts: { seenUpdatedAt?: string; count: boolean }): Promise<number | undefined> {
    const it = this.m.job(jobId);
    if (!it?.active || (opts.seenUpdatedAt !== undefined && it.updatedAt !== opts.seenUpdatedAt)) return undefined;
    it.updatedAt = this.m.stamp();
    it.redrives = (it.redrives ?? 0) + (opts.count ? 1 : 0);
    delete it.mergeClaim;
    delete it.mergeLeaseUntil;
    delete it.mergeEnqueuedBy;
    return it.redrives;
  }

  async reopenJob(jobId: string): Promise<boolean> {
    const it = this.m.job(jobId);
    // DynamoDB checks the parsed error and the stored `errorRetryable`; both come from the same patch.
    if (it?.status !== "failed" || it.error?.retryable !== true || it.errorRetryable !== true) return false;
    const tasks = this.m.taskItems(jobId);
    it.status = reopenedStatus(it, tasks.length);
    it.active = true;
    it.updatedAt = this.m.stamp();
    clearOutcome(it);
    it.failed.clear();
    for (const t of tasks) if (t.state === "failed") t.state = "pending";
    return true;
  }

  async requeueJob(jobId: string, codes: readonly ErrorCode[]): Promise<boolean> {
    const it = this.m.job(jobId);
    // DynamoDB tests the stored `errorCode`, written with the error.
    if (it?.status !== "failed" || it.errorCode === undefined || !codes.includes(it.errorCode)) return false;
    it.status = "queued";
    it.active = true;
    it.updatedAt = this.m.stamp();
    clearOutcome(it);
    delete it.plan;
    delete it.taskCount;
    it.done.clear();
    it.failed.clear();
    this.m.tasks.delete(jobId);
    return true;
  }
}

/** What a re-open and a requeue both drop: the outcome, its expiry and the merge claims. */
function clearOutcome(it: JobItem): void {
  delete it.error;
  delete it.errorRetryable;
  delete it.errorCode;
  delete it.ttl;
  delete it.result;
  delete it.mergeClaim;
  delete it.mergeLeaseUntil;
  delete it.mergeEnqueuedBy;
}
