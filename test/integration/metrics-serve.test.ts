/**
 * `/metrics` of a real `ferry serve` (a child process) with real distribution registries: one
 * successful and one failed replication move the counters by exactly what they did (jobs by
 * outcome and code, tasks, blobs, bytes, durations); every queue and dead-letter queue has its
 * depth gauges; the oldest unfinished job's age is above 0 while a copy is held at a proxy, and 0
 * once the job has ended. The scrape needs the API token, as /replications does.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, it } from "node:test";
import { RegistryClient } from "../../lib/registry/client.ts";
import { type Distribution, freePort, startDistribution } from "../helpers/distribution.ts";
import { type HoldProxy, startHoldProxy } from "../helpers/hold-proxy.ts";
import { allBlobs, pushImage, randomImage } from "../helpers/images.ts";
import { api, eventually, waitForJob, writeConfig } from "../helpers/pipeline.ts";
import { type Exposition, parseExposition, sampleValue, seriesOf } from "../helpers/prometheus.ts";
import { spawnServe, stopServe } from "../helpers/serve-process.ts";

const BIN = fileURLToPath(new URL("../../bin/ferry.js", import.meta.url));
const TOKEN = "test-token";
let src: Distribution;
let dst: Distribution;
let hold: HoldProxy;
let serve: ChildProcess | undefined;
let dir: string;
let base: string;
/** The image whose layer reads are held: plan reads its config, a copy task its layer. */
const HELD = randomImage({ layers: 1, layerSize: 20_000, seed: "metrics-held" });
const HELD_LAYERS = new Set(HELD.blobs.slice(1).map((b) => `/v2/held/app/blobs/${b.digest}`));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-metrics-"));
  [src, dst] = await Promise.all([startDistribution(), startDistribution()]);
  // Layer reads of held/app wait at the proxy until the test releases them.
  hold = await startHoldProxy(src.host, Number.POSITIVE_INFINITY, (m, p) => m === "GET" && HELD_LAYERS.has(p));
  const port = await freePort();
  const config = await writeConfig(
    join(dir, "ferry.yml"),
    `version: 1\napi: { token: ${TOKEN}, allow: [{ source: "127.0.0.1:*/**", destinations: ["127.0.0.1:*/**"] }] }\n`,
  );
  // the embedded stand-ins, state in memory
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("FERRY_")));
  serve = await spawnServe(BIN, config, port, { env, args: ["--in-memory"], timeoutMs: 60_000 });
  base = `http://127.0.0.1:${port}`;
});

after(async () => {
  hold?.release();
  await stopServe(serve);
  await hold?.stop();
  await Promise.all([src?.stop(), dst?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

async function scrape(token: string | null = TOKEN): Promise<{ status: number; contentType: string; metrics: Exposition }> {
  const res = await fetch(`${base}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get("content-type") ?? "", metrics: res.status === 200 ? parseExposition(text) : parseExposition("") };
}

/** Each watched series' value now minus before (a series absent before counts from 0). */
function moved(before: Exposition, now: Exposition, series: Array<[string, Record<string, string>?]>): Record<string, number> {
  return Object.fromEntries(
    series.map(([name, labels]) => [`${name}${labels ? JSON.stringify(labels) : ""}`, sampleValue(now, name, labels) - sampleValue(before, name, labels)]),
  );
}

const WATCHED: Array<[string, Record<string, string>?]> = [
  ["ferry_jobs_total", { outcome: "succeeded" }],
  ["ferry_jobs_total", { outcome: "failed", code: "NOT_FOUND" }],
  ["ferry_jobs_total", { outcome: "skipped" }],
  ["ferry_jobs_planned_total"],
  ["ferry_stage_failures_total", { stage: "plan" }],
  ["ferry_stage_failures_total", { stage: "copy" }],
  ["ferry_stage_failures_total", { stage: "merge" }],
  ["ferry_copy_tasks_done_total"],
  ["ferry_blobs_total", { how: "copied" }],
  ["ferry_blobs_total", { how: "existing" }],
  ["ferry_blobs_total", { how: "mounted" }],
  ["ferry_bytes_copied_total"],
  ["ferry_copy_task_duration_seconds_count"],
  ["ferry_job_duration_seconds_count", { outcome: "succeeded" }],
  ["ferry_job_duration_seconds_count", { outcome: "failed" }],
];

it("/metrics needs the API token and speaks the Prometheus text format", { timeout: 30_000 }, async () => {
  assert.equal((await scrape(null)).status, 401);
  assert.equal((await scrape("wrong")).status, 401);
  const ok = await scrape();
  assert.equal(ok.status, 200);
  assert.match(ok.contentType, /^text\/plain; version=0\.0\.4/);
  assert.equal(ok.metrics.types.get("ferry_jobs_total"), "counter");
  assert.equal(ok.metrics.types.get("ferry_copy_task_duration_seconds"), "histogram");
  assert.equal(ok.metrics.types.get("ferry_queue_messages"), "gauge");
});

it("a succeeded and a failed replication move the counters by exactly what they did", { timeout: 120_000 }, async () => {
  const image = randomImage({ layers: 3, layerSize: 40_000, seed: "metrics-ok" });
  const c = new RegistryClient({ host: src.host });
  await pushImage(c, "app", "v1", image);
  await c.close();
  const blobs = allBlobs(image);
  const bytes = blobs.reduce((n, b) => n + b.size, 0);

  const s0 = (await scrape()).metrics;
  const ok = await api(base, "POST", "/replications", { source: `${src.host}/app:v1`, destinations: [`${dst.host}/mirror/app`] });
  assert.equal(ok.status, 202);
  assert.equal((await waitForJob(base, String(ok.body.id), undefined, 60_000)).status, "succeeded");
  const s1 = (await scrape()).metrics;
  assert.deepEqual(moved(s0, s1, WATCHED), {
    'ferry_jobs_total{"outcome":"succeeded"}': 1,
    'ferry_jobs_total{"outcome":"failed","code":"NOT_FOUND"}': 0,
    'ferry_jobs_total{"outcome":"skipped"}': 0,
    ferry_jobs_planned_total: 1,
    'ferry_stage_failures_total{"stage":"plan"}': 0,
    'ferry_stage_failures_total{"stage":"copy"}': 0,
    'ferry_stage_failures_total{"stage":"merge"}': 0,
    ferry_copy_tasks_done_total: 1,
    'ferry_blobs_total{"how":"copied"}': blobs.length,
    'ferry_blobs_total{"how":"existing"}': 0,
    'ferry_blobs_total{"how":"mounted"}': 0,
    ferry_bytes_copied_total: bytes,
    ferry_copy_task_duration_seconds_count: 1,
    'ferry_job_duration_seconds_count{"outcome":"succeeded"}': 1,
    'ferry_job_duration_seconds_count{"outcome":"failed"}': 0,
  });

  const bad = await api(base, "POST", "/replications", { source: `${src.host}/app:missing`, destinations: [`${dst.host}/mirror/app`] });
  assert.equal(bad.status, 202);
  const failed = await waitForJob(base, String(bad.body.id), undefined, 60_000);
  assert.equal(failed.status, "failed");
  assert.equal((failed.error as { code?: string } | undefined)?.code, "NOT_FOUND");
  const s2 = (await scrape()).metrics;
  assert.deepEqual(moved(s1, s2, WATCHED), {
    'ferry_jobs_total{"outcome":"succeeded"}': 0,
    'ferry_jobs_total{"outcome":"failed","code":"NOT_FOUND"}': 1,
    'ferry_jobs_total{"outcome":"skipped"}': 0,
    ferry_jobs_planned_total: 0,
    'ferry_stage_failures_total{"stage":"plan"}': 1,
    'ferry_stage_failures_total{"stage":"copy"}': 0,
    'ferry_stage_failures_total{"stage":"merge"}': 0,
    ferry_copy_tasks_done_total: 0,
    'ferry_blobs_total{"how":"copied"}': 0,
    'ferry_blobs_total{"how":"existing"}': 0,
    'ferry_blobs_total{"how":"mounted"}': 0,
    ferry_bytes_copied_total: 0,
    ferry_copy_task_duration_seconds_count: 0,
    'ferry_job_duration_seconds_count{"outcome":"succeeded"}': 0,
    'ferry_job_duration_seconds_count{"outcome":"failed"}': 1,
  });
  // Every failure carries its code: no other code moved.
  const codes = seriesOf(s2, "ferry_jobs_total").filter((l) => l.outcome === "failed");
  assert.deepEqual(
    codes.map((l) => l.code),
    ["NOT_FOUND"],
  );
});

it("queue depths for every queue and DLQ; the oldest unfinished job's age while a copy is held, 0 after", { timeout: 120_000 }, async () => {
  const idle = (await scrape()).metrics;
  const queues = ["plan", "copy", "merge", "plan-dlq", "copy-dlq", "merge-dlq"];
  for (const queue of queues)
    for (const state of ["visible", "in_flight", "delayed"])
      assert.ok(idle.samples.has(`ferry_queue_messages{queue="${queue}",state="${state}"}`), `${queue} ${state}`);
  assert.equal(seriesOf(idle, "ferry_queue_messages").length, queues.length * 3);
  assert.equal(sampleValue(idle, "ferry_oldest_active_job_age_seconds"), 0);
  assert.ok(idle.samples.has("ferry_oldest_active_job_age_seconds"));

  const c = new RegistryClient({ host: src.host });
  await pushImage(c, "held/app", "v1", HELD);
  await c.close();
  const r = await api(base, "POST", "/replications", { source: `${hold.host}/held/app:v1`, destinations: [`${dst.host}/held/app`] });
  assert.equal(r.status, 202);
  await eventually(async () => (hold.held() > 0 ? true : undefined), 30_000, "a blob read held at the proxy");
  const held = (await scrape()).metrics;
  assert.ok(sampleValue(held, "ferry_oldest_active_job_age_seconds") > 0, "a job is under way");
  assert.equal(sampleValue(held, "ferry_queue_messages", { queue: "copy", state: "in_flight" }), 1, "the held copy task's message");
  for (const q of ["plan-dlq", "copy-dlq", "merge-dlq"]) assert.equal(sampleValue(held, "ferry_queue_messages", { queue: q, state: "visible" }), 0, q);

  hold.release();
  assert.equal((await waitForJob(base, String(r.body.id), undefined, 60_000)).status, "succeeded");
  const done = (await scrape()).metrics;
  assert.equal(sampleValue(done, "ferry_oldest_active_job_age_seconds"), 0);
  assert.ok(done.samples.has("ferry_oldest_active_job_age_seconds"));
  assert.equal(sampleValue(done, "ferry_jobs_total", { outcome: "succeeded" }) - sampleValue(held, "ferry_jobs_total", { outcome: "succeeded" }), 1);
});
