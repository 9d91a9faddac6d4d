/**
 * Keeping the promise of a `202`: the job store is the truth and queues only carry work to it,
 * so whatever a crash, a lost message or an exhausted retry leaves behind is found here and
 * driven on or failed with a reason.
 *   driveJob        sends the work a job's status calls for (plan, pending copies, or merge)
 *   reopenIfRedriven  a message for a job that failed with a retryable error (a DLQ redrive)
 *                   re-opens it
 *   reconcile       the watcher: jobs that stopped moving are re-driven; after `maxRedrives`
 *                   with nothing waiting or in flight in their stage's queue they fail with STUCK
 *   redriveJobNow / failJobNow   the operator's actions (HTTP API, `ferry serve` and AWS alike)
 */
import { forEachLimit } from "../replicate/limiter.ts";
import { errorOf, errorRecord, FerryError } from "../errors.ts";
import type { QueueName } from "../queue/messages.ts";
import { ACTIVE_STATUSES, FINAL_STATUSES, type Job, type JobStatus } from "../state/store.ts";
import type { DeliveryInfo, PipelineDeps } from "./deps.ts";
import { copyMessages, tasksOf } from "./tasks.ts";

/** The queue that carries a job's next step, by status. */
const STAGE_QUEUE: Partial<Record<JobStatus, QueueName>> = { queued: "plan", planning: "plan", copying: "copy", merging: "merge" };

/**
 * A permanent error (missing source, no matching platform, bad credentials) fails the job now;
 * a retryable one goes back to SQS, except on its last delivery: then the reason is recorded on
 * the job first and the message still goes to the DLQ (a redrive re-opens the job).
 */
export async function failOnLastDelivery(
  deps: PipelineDeps,
  jobId: string,
  e: unknown,
  d: DeliveryInfo,
  stage: string,
  from: Job["status"][],
): Promise<"failed"> {
  const error = errorRecord(e);
  if (error.retryable && d.receiveCount < d.maxReceiveCount) throw e;
  await deps.store.updateJob(jobId, { status: "failed", error }, from);
  deps.log.error(`${stage} failed`, { jobId, code: error.code, side: error.side, attempt: d.receiveCount, error: error.message });
  if (error.retryable) throw e;
  return "failed";
}

/** Seconds without progress before the reconciler re-drives a job. */
export function stuckAfterSeconds(p: PipelineDeps["config"]["pipeline"]): number {
  return p.stuckAfter ?? 2 * p.visibilityTimeout;
}

/**
 * Touches the job every third of the stuck threshold until stopped, so the reconciler leaves a
 * job alone while one of its deliveries is at work (a long copy, registry retries). Short work
 * writes nothing: its outcome is its progress.
 */
export function heartbeat(deps: PipelineDeps, jobId: string): () => void {
  const touch = () => deps.store.touchJob(jobId).catch((e: unknown) => deps.log.warn("heartbeat not recorded", { jobId, error: (e as Error).message }));
  const t = setInterval(touch, Math.max(1000, (stuckAfterSeconds(deps.config.pipeline) * 1000) / 3));
  t.unref();
  return () => clearInterval(t);
}

/** Sends the work `job`'s status calls for; resolves to the queue used (undefined when final). */
export async function driveJob(deps: PipelineDeps, job: Job): Promise<QueueName | undefined> {
  switch (job.status) {
    case "queued":
    case "planning":
      await deps.queues.send("plan", [{ v: 1, kind: "plan", jobId: job.id }]);
      return "plan";
    case "copying": {
      if (!job.plan) {
        await deps.queues.send("plan", [{ v: 1, kind: "plan", jobId: job.id }]);
        return "plan";
      }
      const finished = new Set([...job.done, ...job.failed]);
      const pending = tasksOf(job.plan).filter((t) => !finished.has(t.id));
      if (pending.length > 0) {
        await deps.queues.send("copy", copyMessages(job.id, job.plan, pending));
        return "copy";
      }
      await deps.queues.send("merge", [{ v: 1, kind: "merge", jobId: job.id }]);
      return "merge";
    }
    case "merging":
      await deps.queues.send("merge", [{ v: 1, kind: "merge", jobId: job.id }]);
      return "merge";
    default:
      return undefined;
  }
}

/**
 * A message for a job that failed with a retryable error is a redrive (from a DLQ, or an
 * operator's retry): the job re-opens and its pending work is sent again. True when this
 * happened, so the caller's own message has nothing more to do. A job an operator failed
 * (CANCELLED) is re-opened only by the operator's own redrive of it (`byOperator`), never by a
 * message: one still queued, or a bulk DLQ redrive, must not undo the operator's decision.
 */
export async function reopenIfRedriven(deps: PipelineDeps, job: Job, opts: { byOperator?: boolean } = {}): Promise<boolean> {
  if (job.status !== "failed" || job.error?.retryable !== true) return false;
  if (job.error.code === "CANCELLED" && !opts.byOperator) return false;
  if (!(await deps.store.reopenJob(job.id))) return false;
  const reopened = await deps.store.getJob(job.id);
  if (reopened) await driveJob(deps, reopened);
  deps.log.info("job re-opened by a redriven message", { jobId: job.id, status: reopened?.status, code: job.error.code });
  return true;
}

export interface ReconcileReport {
  /** Jobs not yet final. */
  active: number;
  redriven: number;
  failed: number;
  /** Age of the oldest job not yet final (0 when none). */
  oldestAgeSeconds: number;
}

/**
 * One pass of the watcher. `startup`: this process owns the queues and they start empty (an
 * embedded SQS after a restart), so every job not yet final is driven on at once, uncounted.
 */
export async function reconcile(deps: PipelineDeps, opts: { startup?: boolean; now?: () => number } = {}): Promise<ReconcileReport> {
  const now = opts.now ?? Date.now;
  const p = deps.config.pipeline;
  const stuckMs = stuckAfterSeconds(p) * 1000;
  const report: ReconcileReport = { active: 0, redriven: 0, failed: 0, oldestAgeSeconds: 0 };
  const backlogs = new Map<QueueName, Promise<number>>();
  const backlog = (q: QueueName) => {
    const known = backlogs.get(q);
    if (known) return known;
    const asked = deps.queues.backlog(q);
    backlogs.set(q, asked);
    return asked;
  };
  const active = await deps.store.listActive();
  await forEachLimit(active, 8, async ({ id }) => {
    const job = await deps.store.getJob(id);
    if (!job || FINAL_STATUSES.includes(job.status)) return;
    report.active++;
    report.oldestAgeSeconds = Math.max(report.oldestAgeSeconds, Math.round((now() - Date.parse(job.createdAt)) / 1000));
    const idle = now() - Date.parse(job.updatedAt);
    if (!opts.startup && idle < stuckMs) return;
    const queue = STAGE_QUEUE[job.status];
    if (!opts.startup && (job.redrives ?? 0) >= p.maxRedrives && queue && (await backlog(queue)) === 0) {
      const error = errorOf("STUCK", `no progress for ${Math.round(idle / 1000)} s while ${job.status}, after ${job.redrives ?? 0} re-drives`, {
        retryable: true,
      });
      if (await deps.store.updateJob(id, { status: "failed", error }, [job.status])) {
        report.failed++;
        deps.log.error("job failed: stuck", { jobId: id, status: job.status, code: error.code });
      }
      return;
    }
    if ((await deps.store.redriveJob(id, { seenUpdatedAt: job.updatedAt, count: !opts.startup })) === undefined) return;
    const fresh = await deps.store.getJob(id);
    if (fresh && (await driveJob(deps, fresh))) {
      report.redriven++;
      // After a restart every unfinished job is re-driven: expected, so not a warning.
      const fields = { jobId: id, status: fresh.status, redrives: fresh.redrives, idleSeconds: Math.round(idle / 1000) };
      if (opts.startup) deps.log.info("job re-driven after a restart", fields);
      else deps.log.warn("job re-driven", fields);
    }
  });
  return report;
}

/** The operator's redrive: re-opens a job that failed with a retryable error, or re-sends a stuck job's work. */
export async function redriveJobNow(deps: PipelineDeps, id: string): Promise<Job> {
  const job = await deps.store.getJob(id);
  if (!job) throw new FerryError("NOT_FOUND", `no replication ${id}`);
  if (job.status === "failed") {
    if (!(await reopenIfRedriven(deps, job, { byOperator: true }))) {
      throw new FerryError("CONFLICT", `replication ${id} failed with a permanent error (${job.error?.code ?? "unknown"}); submit it again instead`);
    }
  } else if (FINAL_STATUSES.includes(job.status)) {
    throw new FerryError("CONFLICT", `replication ${id} is ${job.status}; nothing to re-drive`);
  } else if ((await deps.store.redriveJob(id, { count: false })) !== undefined) {
    const fresh = await deps.store.getJob(id);
    if (fresh) await driveJob(deps, fresh);
  }
  return (await deps.store.getJob(id)) ?? job;
}

/** The operator's fail: ends a job not yet final with code CANCELLED and the reason given. */
export async function failJobNow(deps: PipelineDeps, id: string, reason: string): Promise<Job> {
  const job = await deps.store.getJob(id);
  if (!job) throw new FerryError("NOT_FOUND", `no replication ${id}`);
  const error = errorOf("CANCELLED", reason, { retryable: true });
  if (!(await deps.store.updateJob(id, { status: "failed", error }, ACTIVE_STATUSES))) {
    throw new FerryError("CONFLICT", `replication ${id} is already ${job.status}`);
  }
  deps.log.warn("job failed by an operator", { jobId: id, code: error.code });
  return (await deps.store.getJob(id)) ?? job;
}
