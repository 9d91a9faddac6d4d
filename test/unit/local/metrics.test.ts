/**
 * `ferry serve`'s Prometheus registry is fed by the same metric events as CloudWatch: every name
 * the handlers emit is mapped (or deliberately dropped), each event moves its series by what it
 * carries, `/metrics` answers behind the API token when one is set, and the oldest unfinished
 * job's age skips jobs that have ended.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { errorOf } from "../../../lib/errors.ts";
import { metricQueues, oldestActiveAgeSeconds } from "../../../lib/local/metrics-gauges.ts";
import { createServeMetrics, metricsRoute, sinkNames } from "../../../lib/local/metrics.ts";
import { JOB_DURATION_METRIC, JOB_END_METRICS } from "../../../lib/pipeline/job-metrics.ts";
import { MemoryJobStore } from "../../../lib/state/memory.ts";
import { parseExposition, sampleValue } from "../../helpers/prometheus.ts";

const FUNCTIONS = fileURLToPath(new URL("../../../functions/", import.meta.url));

/** The metric names of every `metrics.add(NAME, …)` in functions/: literal names, or each branch of a `cond ? "a" : "b"`. */
function emittedNames(): Set<string> {
  const names = new Set<string>();
  for (const file of readdirSync(FUNCTIONS).filter((f) => f.endsWith(".ts"))) {
    const text = readFileSync(join(FUNCTIONS, file), "utf8");
    for (const m of text.matchAll(/\b(?:metrics|m)\.add\(([^;]*?),\s*"(?:Count|Bytes|Milliseconds|Seconds)"/g)) {
      const first = m[1] as string;
      assert.ok(!first.includes("`"), `${file}: a metric name built from a template cannot be checked: ${first}`);
      const literals = [...first.replace(/[!=]==\s*"\w+"/g, "").matchAll(/"(\w+)"/g)].map((x) => x[1] as string);
      assert.ok(literals.length > 0, `${file}: no literal metric name in ${first}`);
      for (const n of literals) names.add(n);
    }
  }
  return names;
}

describe("ferry serve's Prometheus metrics", () => {
  it("maps every metric name the handlers and the job store emit", () => {
    const emitted = emittedNames();
    assert.ok(emitted.has("bytesCopied") && emitted.has("jobsPlanned") && emitted.has("tasksDone"), [...emitted].join(","));
    for (const n of [...Object.values(JOB_END_METRICS), JOB_DURATION_METRIC]) emitted.add(n);
    const known = new Set(sinkNames());
    assert.deepEqual(
      [...emitted].filter((n) => !known.has(n)),
      [],
    );
  });

  it("moves each series by what its event carries", async () => {
    const { sink, registry } = createServeMetrics();
    const before = parseExposition(await registry.metrics());
    assert.equal(before.types.get("ferry_jobs_total"), "counter");
    assert.equal(before.types.get("ferry_copy_task_duration_seconds"), "histogram");
    sink.add("jobs_failed", "Count", 1, { code: "NOT_FOUND" });
    sink.add("jobs_failed", "Count", 1, { code: "NOT_FOUND" });
    sink.add("jobs_succeeded", "Count", 1);
    sink.add("jobDuration", "Milliseconds", 2500, { status: "succeeded" });
    sink.add("bytesCopied", "Bytes", 1234);
    sink.add("blobsMounted", "Count", 2);
    sink.add("copyDuration", "Milliseconds", 1500);
    sink.add("tasksFailed", "Count", 1);
    sink.add("activeJobs", "Count", 3);
    sink.add("oldestActiveJobAgeSeconds", "Seconds", 99); // read at scrape time instead
    sink.add("noSuchMetric", "Count", 5);
    const e = parseExposition(await registry.metrics());
    assert.equal(sampleValue(e, "ferry_jobs_total", { outcome: "failed", code: "NOT_FOUND" }), 2);
    assert.equal(sampleValue(e, "ferry_jobs_total", { outcome: "succeeded" }), 1);
    assert.equal(sampleValue(e, "ferry_jobs_total", { outcome: "skipped" }), 0);
    assert.ok(e.samples.has('ferry_jobs_total{outcome="skipped"}'), "a series exists before its first event");
    assert.equal(sampleValue(e, "ferry_job_duration_seconds_sum", { outcome: "succeeded" }), 2.5);
    assert.equal(sampleValue(e, "ferry_job_duration_seconds_bucket", { outcome: "succeeded", le: "2.5" }), 1);
    assert.equal(sampleValue(e, "ferry_job_duration_seconds_bucket", { outcome: "succeeded", le: "1" }), 0);
    assert.equal(sampleValue(e, "ferry_bytes_copied_total"), 1234);
    assert.equal(sampleValue(e, "ferry_blobs_total", { how: "mounted" }), 2);
    assert.equal(sampleValue(e, "ferry_copy_task_duration_seconds_count"), 1);
    assert.equal(sampleValue(e, "ferry_copy_task_duration_seconds_sum"), 1.5);
    assert.equal(sampleValue(e, "ferry_stage_failures_total", { stage: "copy" }), 1);
    assert.equal(sampleValue(e, "ferry_active_jobs"), 3);
    // dropped: an unknown name, and the reconciler's oldest age (without sources, no scrape-time gauge either)
    assert.deepEqual(
      [...e.samples.keys()].filter((k) => /no_?such|oldest/i.test(k)),
      [],
    );
  });

  it("answers /metrics behind the API token when one is set, open when none is", async () => {
    const m = createServeMetrics();
    const guarded = metricsRoute(m, { tokenEnv: "METRICS_TEST_TOKEN" }, { METRICS_TEST_TOKEN: "s3cret" });
    assert.equal((await guarded("GET", {})).status, 401);
    assert.equal((await guarded("GET", { authorization: "Bearer wrong" })).status, 401);
    const ok = await guarded("GET", { authorization: "Bearer s3cret" });
    assert.equal(ok.status, 200);
    assert.match(ok.headers["content-type"] ?? "", /^text\/plain; version=0\.0\.4/);
    assert.ok(parseExposition(ok.body).samples.has("ferry_bytes_copied_total"));
    assert.equal((await guarded("POST", { authorization: "Bearer s3cret" })).status, 405);
    assert.equal((await metricsRoute(m, {}, {})("GET", {})).status, 200);
  });

  it("names every queue and its dead-letter queue", () => {
    assert.deepEqual(metricQueues({ queues: { plan: "p", copy: "c", merge: "m" }, deadLetterQueues: { plan: "pd", copy: "cd", merge: "md" } }), {
      plan: "p",
      copy: "c",
      merge: "m",
      "plan-dlq": "pd",
      "copy-dlq": "cd",
      "merge-dlq": "md",
    });
  });

  it("takes the oldest job not yet final as the oldest unfinished one, 0 when every job has ended", async () => {
    let now = Date.parse("2026-01-01T00:00:00.000Z");
    const store = new MemoryJobStore({ now: () => now });
    const request = { source: "127.0.0.1:5000/app:v1", destinations: ["127.0.0.1:5001/app"], trigger: "api" as const, eventTime: "2026-01-01T00:00:00.000Z" };
    assert.equal(await oldestActiveAgeSeconds(store, () => now), 0);
    await store.createJob({ id: "first", request });
    now += 10_000;
    await store.createJob({ id: "second", request });
    now += 500;
    assert.equal(await oldestActiveAgeSeconds(store, () => now), 10.5);
    await store.updateJob("first", { status: "failed", error: errorOf("NOT_FOUND", "gone") });
    assert.equal(await oldestActiveAgeSeconds(store, () => now), 0.5);
    await store.updateJob("second", { status: "succeeded" });
    assert.equal(await oldestActiveAgeSeconds(store, () => now), 0);
  });
});
