/** Paced minor collections: one per GC_EVERY_BYTES moved, counted across calls, never before; and the real collector frees dropped buffers. */
import assert from "node:assert/strict";
import type { PerformanceEntry } from "node:perf_hooks";
import { it } from "node:test";
import { GC_EVERY_BYTES, paceGc } from "../../lib/gc-pace.ts";

it("collects once per GC_EVERY_BYTES moved, young generation only", () => {
  const calls: unknown[] = [];
  const run = (opts: { type: "minor" | "major" }) => calls.push(opts);
  paceGc(GC_EVERY_BYTES, run); // whatever earlier transfers in this process left over: start at 0
  calls.length = 0;
  const chunk = 64 * 1024;
  for (let moved = chunk; moved < GC_EVERY_BYTES; moved += chunk) paceGc(chunk, run);
  assert.equal(calls.length, 0, "not before 4 MiB");
  paceGc(chunk, run);
  assert.deepEqual(calls, [{ type: "minor" }]);
  for (let i = 0; i < (3 * GC_EVERY_BYTES) / chunk; i++) paceGc(chunk, run);
  assert.equal(calls.length, 4, "one per 4 MiB after that");
});

it("the real collector is reachable without --expose-gc: each paced collection is a minor GC, and dropped read buffers are freed", async () => {
  // Counted from V8's own GC events: memory figures alone are blurred by the collections a busy
  // machine's test run triggers anyway.
  const { PerformanceObserver, constants } = await import("node:perf_hooks");
  let minors = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      if ((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minors++;
  });
  observer.observe({ entryTypes: ["gc"] });
  try {
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 256; i++) Buffer.allocUnsafeSlow(64 * 1024); // 16 MiB, dropped as a read's chunks are
    await new Promise((r) => setTimeout(r, 50));
    const seen = minors;
    for (let i = 0; i < 3; i++) paceGc(GC_EVERY_BYTES);
    // V8 frees the swept backing stores on a background thread, and delivers GC entries later.
    let left = process.memoryUsage().arrayBuffers - before;
    for (let i = 0; i < 100 && (left >= 8 * 1024 * 1024 || minors - seen < 3); i++) {
      await new Promise((r) => setTimeout(r, 10));
      left = process.memoryUsage().arrayBuffers - before;
    }
    assert.ok(minors - seen >= 3, `${minors - seen} minor collections seen for 3 paced ones`);
    assert.ok(left < 8 * 1024 * 1024, `${left} bytes of the 16 MiB dropped still held`);
  } finally {
    observer.disconnect();
  }
});
