/**
 * Jobs by outcome and their durations, counted where jobs end: the store's `updateJob`, which every
 * path that ends a job goes through (plan, merge, a last delivery, the gate, the reconciler, an
 * operator), as notifications are (notify.ts). One count per end, on the write that applied it;
 * a refused write (a duplicate delivery, a job already final) counts nothing. The same events feed
 * CloudWatch on AWS and Prometheus under `ferry serve`: only the sink differs.
 */
import { FINAL_STATUSES, type JobPatch, type JobStatus, type JobStore } from "../state/store.ts";
import { type MetricSink, noMetrics } from "./deps.ts";

/** Metric names of a job's end, by final status (the CloudWatch dashboard's "Jobs by outcome"). */
export const JOB_END_METRICS = { succeeded: "jobs_succeeded", failed: "jobs_failed", skipped: "jobs_skipped" } as const;
/** A job's duration from its creation to its end, in milliseconds. */
export const JOB_DURATION_METRIC = "jobDuration";

type FinalStatus = keyof typeof JOB_END_METRICS;

const finalOf = (patch: JobPatch): FinalStatus | undefined =>
  patch.status && FINAL_STATUSES.includes(patch.status) ? (patch.status as FinalStatus) : undefined;

/** Creation times of jobs read through the metered store, kept for their end (the most recent ones). */
const CREATED_KEPT = 1000;

/**
 * `store`, reporting to `metrics` each job that a write ends: `jobs_<status>` (a failure labelled
 * with its code) and `jobDuration`. The duration needs the job's creation time: remembered from
 * the job's last read through this store (merge and plan read the job before they end it), else
 * one read at the end.
 */
export function meteredStore(store: JobStore, metrics: MetricSink, now: () => number = Date.now): JobStore {
  if (metrics === noMetrics) return store;
  const updateJob = store.updateJob.bind(store);
  const getJob = store.getJob.bind(store);
  const created = new Map<string, string>();
  return Object.assign(Object.create(store) as JobStore, {
    async getJob(...args: Parameters<JobStore["getJob"]>) {
      const job = await getJob(...args);
      if (job && !created.has(job.id)) {
        created.set(job.id, job.createdAt);
        if (created.size > CREATED_KEPT) created.delete(created.keys().next().value as string);
      }
      return job;
    },
    async updateJob(id: string, patch: JobPatch, from?: readonly JobStatus[]): Promise<boolean> {
      const applied = await updateJob(id, patch, from);
      const ended = finalOf(patch);
      if (!applied || !ended) return applied;
      const labels = ended === "failed" ? { code: patch.error?.code ?? "UNKNOWN" } : undefined;
      metrics.add(JOB_END_METRICS[ended], "Count", 1, labels);
      try {
        const createdAt = created.get(id) ?? (await getJob(id))?.createdAt;
        created.delete(id);
        if (createdAt) metrics.add(JOB_DURATION_METRIC, "Milliseconds", Math.max(0, now() - Date.parse(createdAt)), { status: ended });
      } catch {
        // the job has ended all the same: a duration lost to a failed read is not worth failing its write
      }
      return applied;
    },
  });
}
