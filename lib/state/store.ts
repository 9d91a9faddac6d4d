/**
 * The job store port: a job per replication request, its tasks (one per child manifest ×
 * destination), completion detected exactly once, a per-destination-tag ordering guard, and the
 * index of jobs not yet final that the reconciler watches. The store is the truth; queues only
 * carry work to it. One interface per concern (JobRecords, MergeClaims, TaskRecords, TagLeases,
 * Cursors, SubjectRecords); `JobStore` is all of them, and a function that needs one concern can
 * take just that.
 */
import type { ErrorCode, ErrorRecord } from "../errors.ts";
import type { Descriptor } from "../oci/manifest.ts";
import type { Referrer } from "../oci/referrers.ts";
import type { ReplicationRequest } from "../queue/messages.ts";
import type { UploadRecords } from "./uploads.ts";
import type { TagDeletion, WrittenTags } from "./written-tags.ts";

export type { UploadRecord, UploadRecords } from "./uploads.ts";
export type { TagDeletion, WrittenTag, WrittenTags } from "./written-tags.ts";

export type JobStatus = "queued" | "planning" | "copying" | "merging" | "succeeded" | "failed" | "skipped";
export const FINAL_STATUSES: readonly JobStatus[] = ["succeeded", "failed", "skipped"];
/** The statuses of a job still under way (all the others). */
export const ACTIVE_STATUSES: readonly JobStatus[] = ["queued", "planning", "copying", "merging"];

/** One destination of a planned job. */
export interface PlannedDestination {
  /** `host/repository`. */
  repository: string;
  /** Tag to move, when the request names one. */
  tag?: string;
  /** Already at the wanted digest, every referrer there too: nothing to copy or tag. */
  upToDate?: boolean;
  /** The tag holds the wanted digest, but referrers are missing: only they are copied. */
  rootUpToDate?: boolean;
}

/** What plan decided: the root manifest to push (after any platform filter) and the destinations. */
export interface JobPlan {
  /** `host/repository` of the source. */
  source: string;
  sourceDigest: string;
  /** Root manifest bytes (base64), its digest and media type, as plan left them. */
  root: { bytes: string; digest: string; mediaType: string; rebuilt: boolean };
  destinations: PlannedDestination[];
  merge: boolean;
  platforms: string[];
  /** What refers to the image (and to its children, and to those referrers) at the source: copied after their subjects. */
  referrers?: Referrer[];
  /** `referrers`: the root is at the destinations already; only its referrers are copied. */
  only?: "referrers";
  /**
   * Images with several blobs of at least `skipAbove` bytes: each such blob is a task of its own
   * (copied in parallel, resumably), the image's other blobs one more, and merge pushes the image.
   */
  fanOut?: { skipAbove: number; units: Array<{ unit: Descriptor; platform: string; blobs: Descriptor[] }> };
}

export type TaskState = "pending" | "done" | "failed";

export interface Task {
  id: string;
  platform: string;
  digest: string;
  mediaType: string;
  size: number;
  /** `host/repository`. */
  destination: string;
  state: TaskState;
  error?: ErrorRecord;
  attempts?: number;
}

/** Where one destination ended up. */
export interface DestinationResult {
  destination: string;
  digest: string;
  addressByTag?: string;
  addressByDigest: string;
  /** The destination's parts, for CI: registry, repository, tag, and the addresses without the registry. */
  registry?: string;
  repository?: string;
  tag?: string;
  shortAddressByTag?: string;
  shortAddressByDigest?: string;
  /** A newer event had already moved the tag: this job left it alone. */
  superseded?: boolean;
  upToDate?: boolean;
}

export interface JobResult {
  digest: string;
  addressByTag?: string;
  addressByDigest: string;
  destinations: DestinationResult[];
  warnings?: string[];
  /** A delete job: what happened to each destination tag. */
  deletions?: TagDeletion[];
}

export interface Job {
  id: string;
  status: JobStatus;
  request: ReplicationRequest;
  createdAt: string;
  updatedAt: string;
  plan?: JobPlan;
  taskCount?: number;
  done: string[];
  failed: string[];
  result?: JobResult;
  error?: ErrorRecord;
  mergeRuns?: number;
  /** Times the reconciler re-sent this job's work because it stopped moving. */
  redrives?: number;
  tasks?: Task[];
}

/** The ordering record of one destination tag. */
export interface TagRecord {
  /** Event time (epoch ms) and digest of the newest move recorded. */
  eventTime?: number;
  digest?: string;
  jobId?: string;
  leaseOwner?: string;
  leaseUntil?: number;
}

/** Fields an update may set. */
export interface JobPatch {
  status?: JobStatus;
  plan?: JobPlan;
  taskCount?: number;
  result?: JobResult;
  error?: ErrorRecord;
}

export interface TaskCompletion {
  done: number;
  failed: number;
  total: number;
  /** Every task has an outcome. */
  complete: boolean;
}

export type TagClaim = "acquired" | "superseded" | "busy";

/**
 * Jobs: one record per replication request, its status and the index of jobs not yet final. A
 * final job (succeeded, failed, skipped) changes only through `reopenJob`.
 */
export interface JobRecords {
  /** Creates a job unless one with this id exists (deduplication). True when created. */
  createJob(job: { id: string; request: ReplicationRequest }): Promise<boolean>;
  getJob(id: string, opts?: { withTasks?: boolean }): Promise<Job | undefined>;
  /** Most recent first. */
  listJobs(limit: number): Promise<Job[]>;
  /**
   * Ids of every job not yet final (oldest first), for the reconciler; with `limit`, only the
   * oldest `limit` of them, read in one bounded query per index partition (a metrics scrape).
   */
  listActive(opts?: { limit?: number }): Promise<Array<{ id: string; createdAt: string }>>;
  /** Records progress on a job not yet final (its `updatedAt`): the reconciler leaves it alone. */
  touchJob(id: string): Promise<void>;
  /**
   * Records the plan and moves the job from `queued` (or `planning`) to `planning`, once: a
   * concurrent plan run loses and must use the winner's. True when this call recorded it.
   */
  recordPlan(id: string, plan: JobPlan, taskCount: number): Promise<boolean>;
  /**
   * Applies `patch` when the job's status is one of `from` (when omitted: any status not yet
   * final, so a late write never moves a finished job). A patch to a status not yet final never
   * applies to a final job, whatever `from` says: `reopenJob` is the way back. True when applied.
   */
  updateJob(id: string, patch: JobPatch, from?: readonly JobStatus[]): Promise<boolean>;
  /**
   * Marks a job that stopped moving as re-driven: applied only when `updatedAt` is still
   * `seenUpdatedAt` (or always when it is undefined) and the job is not final. Clears the merge
   * claims so re-sent work can run. Counts toward `redrives` when `count`. Resolves to the
   * job's redrive count, or undefined when not applied.
   */
  redriveJob(jobId: string, opts: { seenUpdatedAt?: string; count: boolean }): Promise<number | undefined>;
  /**
   * Re-opens a job that failed with a retryable error (a DLQ redrive, an operator's retry): back
   * to `copying` when it has a plan and every task, else `queued`; its failed tasks go back to
   * pending. One conditional write: of two concurrent re-opens of one failure, one wins. True
   * when re-opened.
   */
  reopenJob(jobId: string): Promise<boolean>;
  /**
   * Sends a job that failed with one of `codes` back to `queued` as if new (a signature that came
   * late, a gate that opened): its plan, task count, task outcomes, task items, result, error,
   * TTL and merge claims go; it rejoins the index of jobs under way; `redrives` stays. One
   * conditional write on the job (status and error code): of two concurrent calls one wins. The
   * task items are deleted before it resolves, so the caller re-sends the job's work after it.
   * True when requeued; false for any other status or code, or when `codes` is empty.
   */
  requeueJob(jobId: string, codes: readonly ErrorCode[]): Promise<boolean>;
}

/**
 * The merge's claim on a job: a lease, one claimant at a time, held on the job record (claiming
 * moves the job to `merging`; a redrive or a re-open clears it).
 */
export interface MergeClaims {
  /**
   * Starts the merge: one claimant at a time per job. The same claimant (a redelivery) wins
   * again; another wins once the lease has run out (a DLQ redrive brings a new message id).
   */
  claimMerge(jobId: string, claimant: string, leaseMs: number): Promise<boolean>;
  /** Gives the merge claim up (a merge that waits for a busy tag re-queues itself). */
  releaseMerge(jobId: string, claimant: string): Promise<void>;
}

/** Tasks: one per child manifest × destination, their outcomes counted on the job exactly once. */
export interface TaskRecords {
  putTasks(jobId: string, tasks: Task[]): Promise<void>;
  /**
   * Records a task's outcome (idempotent) and says whether the task set is now complete.
   * Rejects with NOT_FOUND when the job does not exist.
   */
  completeTask(jobId: string, taskId: string, outcome: { state: "done" | "failed"; error?: ErrorRecord }): Promise<TaskCompletion>;
  /** Notes a failed attempt on a task (its error shows while it is retried). */
  noteTaskAttempt(jobId: string, taskId: string, error: ErrorRecord): Promise<void>;
  /**
   * Decides who enqueues the merge once the task set is complete: exactly one task wins, and
   * the same task wins again (its redelivered message, after a crash before the send).
   */
  claimMergeEnqueue(jobId: string, taskId: string): Promise<boolean>;
}

/** The per-destination-tag ordering guard: newer events win, a lease serialises the moves. */
export interface TagLeases {
  /**
   * Leases the destination tag `key` for a job whose event happened at `eventTime`: superseded
   * when a newer event already moved it, busy while another job holds the lease.
   */
  claimTag(key: string, jobId: string, eventTime: number, leaseMs: number): Promise<TagClaim>;
  /** Extends a lease this job holds; false when it no longer holds it. */
  renewTag(key: string, jobId: string, leaseMs: number): Promise<boolean>;
  /** Records the tag move and releases the lease; false when the lease was lost meanwhile. */
  releaseTag(key: string, jobId: string, eventTime: number, digest: string): Promise<boolean>;
  getTag(key: string): Promise<TagRecord | undefined>;
}

/** Resume points (backfill across invocations). */
export interface Cursors {
  /** A resume point; undefined when none. */
  getCursor(key: string): Promise<string | undefined>;
  /** Saves a resume point, or clears it with undefined. */
  putCursor(key: string, value: string | undefined): Promise<void>;
}

/** What a budget lease gave: tokens (possibly 0), and when the next one will be there. */
export interface TokenGrant {
  granted: number;
  /** Milliseconds until a token will be there again (0 when some were granted). */
  retryAfterMs: number;
}

/**
 * Request budgets shared by every worker (one per registry): a token bucket per key, refilled at
 * `ratePerSecond` up to `burst`, taken from atomically; a registry's own "slow down" empties it
 * for every worker until a time.
 */
export interface RateBudgets {
  takeTokens(key: string, want: number, ratePerSecond: number, burst: number): Promise<TokenGrant>;
  /** Nobody takes from `key` before `untilMs` (epoch ms): the registry said 429 Retry-After, or it has no requests left. */
  holdBudget(key: string, untilMs: number): Promise<void>;
}

/** Where each source manifest went, and the jobs a signature gate holds back until it is signed. */
export interface SubjectRecords {
  /** Notes that `digests` of the source repository `source` ("host/repo") are now at `destination` ("host/repo"). Idempotent. */
  addReplicas(source: string, digests: string[], destination: string): Promise<void>;
  /** The destination repositories `digest` of `source` was replicated to (any order, no duplicates); [] when none. */
  replicasOf(source: string, digest: string): Promise<string[]>;
  /** Notes that job `jobId` waits for a valid signature of `digest` of `source`. Idempotent. */
  holdForSignature(source: string, digest: string, jobId: string): Promise<void>;
  /** The jobs held for `digest` of `source`, removed from the record by this call (each returned once, even under concurrent calls). */
  takeHeld(source: string, digest: string): Promise<string[]>;
}

/** The whole store, every concern: what the pipeline's dependencies carry. */
export type JobStore = JobRecords & MergeClaims & TaskRecords & TagLeases & Cursors & SubjectRecords & RateBudgets & UploadRecords & WrittenTags;
