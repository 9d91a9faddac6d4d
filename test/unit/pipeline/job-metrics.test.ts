/**
 * Jobs are counted where their end is written: once per end whichever status it reaches, a failure
 * with its code, a refused write (a duplicate, a job already final) not at all, with the job's
 * duration from its creation.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { errorOf } from "../../../lib/errors.ts";
import { type MetricSink, noMetrics } from "../../../lib/pipeline/deps.ts";
import { meteredStore } from "../../../lib/pipeline/job-metrics.ts";
import { MemoryJobStore } from "../../../lib/state/memory.ts";

const request = { source: "127.0.0.1:5000/app:v1", destinations: ["127.0.0.1:5001/app"], trigger: "api" as const, eventTime: "2026-01-01T00:00:00.000Z" };

type Sample = { name: string; unit: string; value: number; labels?: Readonly<Record<string, string>> };

function recorder(): MetricSink & { samples: Sample[] } {
  const samples: Sample[] = [];
  return { samples, add: (name, unit, value, labels) => samples.push({ name, unit, value, ...(labels ? { labels } : {}) }) };
}

describe("meteredStore", () => {
  it("counts each end once, by status, a failure with its code, and its duration", async () => {
    let now = Date.parse("2026-01-01T00:00:00.000Z");
    const base = new MemoryJobStore({ now: () => now });
    const sink = recorder();
    const store = meteredStore(base, sink, () => now);
    for (const id of ["ok", "bad", "same"]) await store.createJob({ id, request });
    now += 2500;
    assert.equal(await store.updateJob("ok", { status: "copying" }), true);
    assert.deepEqual(sink.samples, [], "a status not yet final counts nothing");
    assert.equal(await store.updateJob("ok", { status: "succeeded" }), true);
    assert.equal(await store.updateJob("bad", { status: "failed", error: errorOf("NOT_FOUND", "gone", { side: "source" }) }), true);
    assert.equal(await store.updateJob("same", { status: "skipped" }, ["queued", "planning"]), true);
    // refused: already final (a duplicate delivery's late write)
    assert.equal(await store.updateJob("ok", { status: "failed", error: errorOf("INTERNAL", "late") }), false);
    assert.deepEqual(sink.samples, [
      { name: "jobs_succeeded", unit: "Count", value: 1 },
      { name: "jobDuration", unit: "Milliseconds", value: 2500, labels: { status: "succeeded" } },
      { name: "jobs_failed", unit: "Count", value: 1, labels: { code: "NOT_FOUND" } },
      { name: "jobDuration", unit: "Milliseconds", value: 2500, labels: { status: "failed" } },
      { name: "jobs_skipped", unit: "Count", value: 1 },
      { name: "jobDuration", unit: "Milliseconds", value: 2500, labels: { status: "skipped" } },
    ]);
  });

  it("takes the creation time from the job's last read through it: no second read at the end", async () => {
    let now = Date.parse("2026-01-01T00:00:00.000Z");
    const base = new MemoryJobStore({ now: () => now });
    let reads = 0;
    const getJob = base.getJob.bind(base);
    base.getJob = (...args: Parameters<typeof base.getJob>) => {
      reads++;
      return getJob(...args);
    };
    const sink = recorder();
    const store = meteredStore(base, sink, () => now);
    await store.createJob({ id: "read", request });
    await store.createJob({ id: "unread", request });
    assert.equal((await store.getJob("read"))?.id, "read", "merge reads the job before it ends it");
    now += 1200;
    reads = 0;
    await store.updateJob("read", { status: "succeeded" });
    assert.equal(reads, 0, "the duration of a job read before costs no read");
    await store.updateJob("unread", { status: "succeeded" });
    assert.equal(reads, 1, "a job never read through it is read once");
    assert.deepEqual(
      sink.samples.filter((x) => x.name === "jobDuration").map((x) => x.value),
      [1200, 1200],
    );
  });

  it("leaves the store as it is when nothing listens", () => {
    const base = new MemoryJobStore();
    assert.equal(meteredStore(base, noMetrics), base);
  });
});
