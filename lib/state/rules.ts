/** The port's rules, written once for every adapter: which statuses an update may move a job from, when a task set is complete, where a re-opened job resumes. */
import { ACTIVE_STATUSES, FINAL_STATUSES, type JobPatch, type JobStatus, type TaskCompletion } from "./store.ts";

/**
 * The statuses `updateJob` may apply `patch` from: `from`, or every status not yet final when it
 * is omitted (a late write never touches a finished job). A patch to a status not yet final never
 * applies to a final job: only a re-open brings one back, restoring its index entry and TTL.
 */
export function updatableFrom(patch: JobPatch, from: readonly JobStatus[] = ACTIVE_STATUSES): JobStatus[] {
  const reviving = patch.status !== undefined && !FINAL_STATUSES.includes(patch.status);
  return from.filter((s) => !(reviving && FINAL_STATUSES.includes(s)));
}

/** What a job's outcome sets say: a task both done and failed (a retry that succeeded) counts as done. */
export function taskCompletion(done: Iterable<string>, failed: Iterable<string>, taskCount: number | undefined): TaskCompletion {
  const doneIds = new Set(done);
  const failedCount = [...failed].filter((t) => !doneIds.has(t)).length;
  const total = taskCount ?? Number.POSITIVE_INFINITY;
  return { done: doneIds.size, failed: failedCount, total, complete: doneIds.size + failedCount >= total };
}

/**
 * Where a re-opened job resumes: with its plan and every task recorded it resumes copying;
 * otherwise planning runs again and reuses the recorded plan.
 */
export function reopenedStatus(job: { plan?: unknown; taskCount?: number }, tasksRecorded: number): "copying" | "queued" {
  return job.plan && job.taskCount !== undefined && tasksRecorded >= job.taskCount ? "copying" : "queued";
}

/** A token bucket's state as the store keeps it. */
export interface BucketState {
  tokens: number;
  /** Epoch ms of the last refill. */
  at: number;
  heldUntil?: number;
}

/**
 * Refills `b` to `now` and takes up to `want` whole tokens: the new state and the grant. Written
 * once for both adapters; the DynamoDB one applies it under a condition on `at`.
 */
export function takeFromBucket(b: BucketState | undefined, want: number, ratePerSecond: number, burst: number, now: number) {
  const held = b?.heldUntil !== undefined && b.heldUntil > now ? b.heldUntil : undefined;
  const tokens = b ? Math.min(burst, b.tokens + (Math.max(0, now - b.at) / 1000) * ratePerSecond) : burst;
  const granted = held ? 0 : Math.max(0, Math.min(want, Math.floor(tokens)));
  const left = tokens - granted;
  const retryAfterMs = granted > 0 ? 0 : held ? held - now : Math.ceil(((1 - left) / ratePerSecond) * 1000);
  const next: BucketState = { tokens: left, at: now, ...(held ? { heldUntil: held } : {}) };
  return { next, grant: { granted, retryAfterMs: granted > 0 ? 0 : Math.max(1, retryAfterMs) } };
}
