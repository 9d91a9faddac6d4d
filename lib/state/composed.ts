/** One `JobStore` from an adapter's nine concerns: each method is handed to the part that owns it. */
import type { ErrorCode, ErrorRecord } from "../errors.ts";
import type { ReplicationRequest } from "../queue/messages.ts";
import type {
  Cursors,
  Job,
  JobPatch,
  JobPlan,
  JobRecords,
  JobStatus,
  JobStore,
  MergeClaims,
  SubjectRecords,
  RateBudgets,
  TokenGrant,
  TagClaim,
  TagLeases,
  TagRecord,
  Task,
  TaskCompletion,
  TaskRecords,
  UploadRecord,
  UploadRecords,
  WrittenTag,
  WrittenTags,
} from "./store.ts";

/** An adapter's parts, one per concern of the port. */
export interface JobStoreParts {
  jobs: JobRecords;
  merges: MergeClaims;
  tasks: TaskRecords;
  tags: TagLeases;
  cursors: Cursors;
  subjects: SubjectRecords;
  uploads: UploadRecords;
  budgets: RateBudgets;
  written: WrittenTags;
}

/** The whole port over its parts; adapters extend it and build the parts over one shared state. */
export class ComposedJobStore implements JobStore {
  protected readonly parts: JobStoreParts;

  constructor(parts: JobStoreParts) {
    this.parts = parts;
  }

  createJob(job: { id: string; request: ReplicationRequest }): Promise<boolean> {
    return this.parts.jobs.createJob(job);
  }
  getJob(id: string, opts?: { withTasks?: boolean }): Promise<Job | undefined> {
    return this.parts.jobs.getJob(id, opts);
  }
  listJobs(limit: number): Promise<Job[]> {
    return this.parts.jobs.listJobs(limit);
  }
  listActive(opts?: { limit?: number }): Promise<Array<{ id: string; createdAt: string }>> {
    return this.parts.jobs.listActive(opts);
  }
  touchJob(id: string): Promise<void> {
    return this.parts.jobs.touchJob(id);
  }
  recordPlan(id: string, plan: JobPlan, taskCount: number): Promise<boolean> {
    return this.parts.jobs.recordPlan(id, plan, taskCount);
  }
  updateJob(id: string, patch: JobPatch, from?: readonly JobStatus[]): Promise<boolean> {
    return this.parts.jobs.updateJob(id, patch, from);
  }
  redriveJob(jobId: string, opts: { seenUpdatedAt?: string; count: boolean }): Promise<number | undefined> {
    return this.parts.jobs.redriveJob(jobId, opts);
  }
  reopenJob(jobId: string): Promise<boolean> {
    return this.parts.jobs.reopenJob(jobId);
  }
  requeueJob(jobId: string, codes: readonly ErrorCode[]): Promise<boolean> {
    return this.parts.jobs.requeueJob(jobId, codes);
  }

  claimMerge(jobId: string, claimant: string, leaseMs: number): Promise<boolean> {
    return this.parts.merges.claimMerge(jobId, claimant, leaseMs);
  }
  releaseMerge(jobId: string, claimant: string): Promise<void> {
    return this.parts.merges.releaseMerge(jobId, claimant);
  }

  putTasks(jobId: string, tasks: Task[]): Promise<void> {
    return this.parts.tasks.putTasks(jobId, tasks);
  }
  completeTask(jobId: string, taskId: string, outcome: { state: "done" | "failed"; error?: ErrorRecord }): Promise<TaskCompletion> {
    return this.parts.tasks.completeTask(jobId, taskId, outcome);
  }
  noteTaskAttempt(jobId: string, taskId: string, error: ErrorRecord): Promise<void> {
    return this.parts.tasks.noteTaskAttempt(jobId, taskId, error);
  }
  claimMergeEnqueue(jobId: string, taskId: string): Promise<boolean> {
    return this.parts.tasks.claimMergeEnqueue(jobId, taskId);
  }

  claimTag(key: string, jobId: string, eventTime: number, leaseMs: number): Promise<TagClaim> {
    return this.parts.tags.claimTag(key, jobId, eventTime, leaseMs);
  }
  renewTag(key: string, jobId: string, leaseMs: number): Promise<boolean> {
    return this.parts.tags.renewTag(key, jobId, leaseMs);
  }
  releaseTag(key: string, jobId: string, eventTime: number, digest: string): Promise<boolean> {
    return this.parts.tags.releaseTag(key, jobId, eventTime, digest);
  }
  getTag(key: string): Promise<TagRecord | undefined> {
    return this.parts.tags.getTag(key);
  }

  getCursor(key: string): Promise<string | undefined> {
    return this.parts.cursors.getCursor(key);
  }
  putCursor(key: string, value: string | undefined): Promise<void> {
    return this.parts.cursors.putCursor(key, value);
  }

  addReplicas(source: string, digests: string[], destination: string): Promise<void> {
    return this.parts.subjects.addReplicas(source, digests, destination);
  }
  replicasOf(source: string, digest: string): Promise<string[]> {
    return this.parts.subjects.replicasOf(source, digest);
  }
  holdForSignature(source: string, digest: string, jobId: string): Promise<void> {
    return this.parts.subjects.holdForSignature(source, digest, jobId);
  }
  takeHeld(source: string, digest: string): Promise<string[]> {
    return this.parts.subjects.takeHeld(source, digest);
  }

  saveUpload(key: string, rec: UploadRecord): Promise<void> {
    return this.parts.uploads.saveUpload(key, rec);
  }
  getUpload(key: string): Promise<UploadRecord | undefined> {
    return this.parts.uploads.getUpload(key);
  }
  dropUpload(key: string): Promise<void> {
    return this.parts.uploads.dropUpload(key);
  }

  takeTokens(key: string, want: number, ratePerSecond: number, burst: number): Promise<TokenGrant> {
    return this.parts.budgets.takeTokens(key, want, ratePerSecond, burst);
  }
  holdBudget(key: string, untilMs: number): Promise<void> {
    return this.parts.budgets.holdBudget(key, untilMs);
  }

  noteWritten(rec: WrittenTag): Promise<boolean> {
    return this.parts.written.noteWritten(rec);
  }
  getWritten(source: string, destination: string, tag: string): Promise<WrittenTag | undefined> {
    return this.parts.written.getWritten(source, destination, tag);
  }
  writtenFrom(source: string): Promise<WrittenTag[]> {
    return this.parts.written.writtenFrom(source);
  }
  forgetWritten(source: string, destination: string, tag: string, digest: string): Promise<boolean> {
    return this.parts.written.forgetWritten(source, destination, tag, digest);
  }
}
