/**
 * The in-memory adapter's state, shared by its parts: items as DynamoDB holds them, attribute
 * for attribute, and the TTL that drops a finished job. Values go in through a JSON round-trip
 * (as JSON attributes do there) and come out as copies: a caller never reaches stored state.
 */
import type { ErrorCode, ErrorRecord } from "../../errors.ts";
import type { ReplicationRequest } from "../../queue/messages.ts";
import type { JobPlan, JobResult, JobStatus, Task } from "../store.ts";

/** The job item: what `JOB#<id>/JOB` holds in DynamoDB, attribute for attribute. */
export interface JobItem {
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
  errorCode?: ErrorCode;
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
export interface TagItem {
  eventTime?: number;
  digest?: string;
  jobId?: string;
  leaseOwner?: string;
  leaseUntil?: number;
}

/** The subject item: `SUBJ#<source>@<digest>/SUBJ`, its string sets. */
export interface SubjectItem {
  dests: Set<string>;
  held: Set<string>;
}

/** Stores a value as DynamoDB does (a JSON attribute): undefined fields gone, a copy. */
export const asJson = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** Sort-key order (code units; DynamoDB uses UTF-8 bytes, the same for the ids ferry makes). */
export const byKey = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export interface MemoryTablesOptions {
  /** Days a finished job is kept before it is dropped. */
  ttlDays?: number;
  now?: () => number;
}

/** Every item of one in-memory store. */
export class MemoryTables {
  readonly ttlDays: number;
  readonly now: () => number;
  readonly jobs = new Map<string, JobItem>();
  /** Task items per job id; like DynamoDB's, they may exist before (or without) their job. */
  readonly tasks = new Map<string, Map<string, Task>>();
  readonly tags = new Map<string, TagItem>();
  readonly cursors = new Map<string, string>();
  /** Subject items by `<source>@<digest>`; like DynamoDB's, they never expire. */
  readonly subjects = new Map<string, SubjectItem>();

  constructor(opts: MemoryTablesOptions = {}) {
    this.ttlDays = opts.ttlDays ?? 14;
    this.now = opts.now ?? (() => Date.now());
  }

  /** Now, as the ISO time `createdAt` and `updatedAt` hold. */
  stamp(): string {
    return new Date(this.now()).toISOString();
  }

  /**
   * The job item, unless its TTL has passed: then it is dropped with its tasks (DynamoDB drops
   * it some time after; dropping at once keeps a long `--in-memory` run bounded).
   */
  job(id: string): JobItem | undefined {
    const it = this.jobs.get(id);
    if (it?.ttl !== undefined && it.ttl * 1000 <= this.now()) {
      this.jobs.delete(id);
      this.tasks.delete(id);
      return undefined;
    }
    return it;
  }

  /** Every live job item (expired ones dropped on the way). */
  liveJobs(): JobItem[] {
    return [...this.jobs.keys()].map((id) => this.job(id)).filter((it): it is JobItem => it !== undefined);
  }

  /** A job's task items (stored objects, not copies), in task-id order. */
  taskItems(jobId: string): Task[] {
    return [...(this.tasks.get(jobId)?.values() ?? [])].sort((a, b) => byKey(a.id, b.id));
  }
}
