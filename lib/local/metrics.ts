/**
 * Prometheus metrics of `ferry serve` (`GET /metrics`): the CloudWatch dashboard's figures, fed by
 * the same events. The handlers write to a {@link MetricSink} on AWS and here alike (functions/
 * copy, plan, merge, reconcile, backfill; jobs' ends from lib/pipeline/job-metrics.ts); on AWS the
 * sink is Powertools (CloudWatch), here it is {@link createServeMetrics}' registry. Queue depths and
 * the oldest unfinished job are read when scraped (metrics-gauges.ts). Only `ferry serve` loads
 * this file, so prom-client never reaches a Lambda bundle.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { secretFrom } from "../config.ts";
import { safeEqual } from "../events/compare.ts";
import type { MetricSink } from "../pipeline/deps.ts";
import type { LocalResponse, LocalRoute } from "./http-front.ts";
import { type GaugeSources, registerScrapeGauges } from "./metrics-gauges.ts";

type Labels = Readonly<Record<string, string>>;
/** What one sink metric name does to the registry. */
type Feed = (value: number, labels?: Labels) => void;

/** Seconds: a job waits in queues and may copy gigabytes; a copy task is one manifest's blobs. */
const JOB_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
const TASK_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];

/**
 * Sink names (as CloudWatch has them) and what each feeds here. `null`: deliberately not a
 * Prometheus figure (the oldest unfinished job is read at scrape time instead of the reconciler's
 * last pass). A name missing here would be lost: test/unit/local/metrics.test.ts reads every
 * name the handlers emit and fails on one this table does not know.
 */
function feeds(r: Registry): Record<string, Feed | null> {
  const counter = (name: string, help: string, labelNames: string[] = []) => new Counter({ name, help, labelNames, registers: [r] });
  const jobs = counter("ferry_jobs_total", "Jobs ended, by outcome (succeeded, failed, skipped); failures by error code", ["outcome", "code"]);
  const stageFailures = counter("ferry_stage_failures_total", "Failures that ended work, by stage (plan, copy task, merge)", ["stage"]);
  const attempts = counter("ferry_attempts_failed_total", "Deliveries that threw and will be retried by the queue, by stage", ["stage"]);
  const blobs = counter("ferry_blobs_total", "Blobs of copy tasks: copied (streamed), mounted (cross-repository), existing (already there)", ["how"]);
  const jobDuration = new Histogram({
    name: "ferry_job_duration_seconds",
    help: "From a job's creation to its end, by outcome",
    labelNames: ["outcome"],
    buckets: JOB_BUCKETS,
    registers: [r],
  });
  const taskDuration = new Histogram({ name: "ferry_copy_task_duration_seconds", help: "One copy task's run", buckets: TASK_BUCKETS, registers: [r] });
  const active = new Gauge({ name: "ferry_active_jobs", help: "Jobs not yet final, as the reconciler's last pass counted them", registers: [r] });
  const inc = (c: Counter, labels: Labels = {}): Feed => {
    c.inc(labels, 0); // the series exists from the start, so rate() and increase() see its first event
    return (v) => c.inc(labels, v);
  };
  const plain = (name: string, help: string) => inc(counter(name, help));
  return {
    jobs_succeeded: inc(jobs, { outcome: "succeeded" }),
    jobs_failed: (v, l) => jobs.inc({ outcome: "failed", code: l?.code ?? "UNKNOWN" }, v),
    jobs_skipped: inc(jobs, { outcome: "skipped" }),
    jobDuration: (ms, l) => jobDuration.observe({ outcome: l?.status ?? "unknown" }, ms / 1000),
    jobsPlanned: plain("ferry_jobs_planned_total", "Jobs planned (copy tasks sent)"),
    planFailed: inc(stageFailures, { stage: "plan" }),
    tasksFailed: inc(stageFailures, { stage: "copy" }),
    mergeFailed: inc(stageFailures, { stage: "merge" }),
    planAttemptsFailed: inc(attempts, { stage: "plan" }),
    copyAttemptsFailed: inc(attempts, { stage: "copy" }),
    mergeAttemptsFailed: inc(attempts, { stage: "merge" }),
    tasksDone: plain("ferry_copy_tasks_done_total", "Copy tasks done"),
    bytesCopied: plain("ferry_bytes_copied_total", "Bytes streamed from sources to destinations by copy tasks"),
    blobsCopied: inc(blobs, { how: "copied" }),
    blobsMounted: inc(blobs, { how: "mounted" }),
    blobsSkipped: inc(blobs, { how: "existing" }),
    copyDuration: (ms) => taskDuration.observe(ms / 1000),
    mergeDeferred: plain("ferry_merge_deferred_total", "Merges that waited for a destination tag leased by another job"),
    referrerEvents: plain("ferry_referrer_events_total", "Referrers pushed after their image was mirrored"),
    gateRequeued: plain("ferry_gate_requeued_total", "Jobs sent back by the signature gate once a signature arrived"),
    backfillEnqueued: plain("ferry_backfill_enqueued_total", "Replications a scheduled backfill enqueued"),
    jobsRedriven: plain("ferry_jobs_redriven_total", "Jobs the reconciler re-drove because they stopped moving"),
    jobsFailedStuck: plain("ferry_jobs_failed_stuck_total", "Jobs the reconciler failed with STUCK"),
    activeJobs: (v) => active.set(v),
    oldestActiveJobAgeSeconds: null,
  };
}

/** The sink names {@link createServeMetrics} maps (or deliberately drops). */
export const sinkNames = (): string[] => Object.keys(feeds(new Registry()));

export interface ServeMetrics {
  /** Where the handlers report (the MetricSink they would give Powertools on AWS). */
  sink: MetricSink;
  registry: Registry;
}

/** A registry of this process's figures (never prom-client's global one), and the sink that feeds it. */
export function createServeMetrics(sources?: GaugeSources): ServeMetrics {
  const registry = new Registry();
  const table = feeds(registry);
  if (sources) registerScrapeGauges(registry, sources);
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    sink: {
      add(name, _unit, value, labels) {
        table[name]?.(value, labels);
      },
    },
  };
}

/**
 * `GET /metrics`: the exposition text. Behind the API's bearer token when one is configured
 * (`api.token`/`api.tokenEnv`, read per request as `/replications` does), open otherwise.
 */
export function metricsRoute(metrics: ServeMetrics, api: { token?: string | undefined; tokenEnv?: string | undefined }, env: NodeJS.ProcessEnv): LocalRoute {
  return async (method, headers): Promise<LocalResponse> => {
    if (method !== "GET" && method !== "HEAD") return { status: 405, headers: { allow: "GET, HEAD" }, body: "" };
    const token = secretFrom(api.token, api.tokenEnv, env);
    if (token && !safeEqual(headers.authorization ?? "", `Bearer ${token}`)) {
      return { status: 401, headers: { "content-type": "text/plain", "www-authenticate": 'Bearer realm="ferry"' }, body: "missing or wrong bearer token\n" };
    }
    const body = await metrics.registry.metrics();
    return { status: 200, headers: { "content-type": metrics.registry.contentType }, body: method === "HEAD" ? "" : body };
  };
}
