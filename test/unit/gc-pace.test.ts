/** Paced minor collections: one per GC_EVERY_BYTES moved, counted across calls, never before; and the real collector frees dropped buffers. */
import assert from "node:assert/strict";
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

it("the real collector is reachable without --expose-gc, and frees dropped read buffers", async () => {
  const before = process.memoryUsage().arrayBuffers;
  for (let i = 0; i < 256; i++) Buffer.allocUnsafeSlow(64 * 1024); // 16 MiB, dropped as a read's chunks are
  const dropped = process.memoryUsage().arrayBuffers - before;
  assert.ok(dropped >= 8 * 1024 * 1024, `${dropped} bytes allocated and dropped`);
  paceGc(GC_EVERY_BYTES);
  // V8 frees the swept backing stores on a background thread: on a busy machine that lags the
  // collection by a few milliseconds. Nothing else collects in that time (no allocation here).
  let left = process.memoryUsage().arrayBuffers - before;
  for (let i = 0; i < 100 && left >= dropped / 2; i++) {
    await new Promise((r) => setTimeout(r, 10));
    left = process.memoryUsage().arrayBuffers - before;
  }
  assert.ok(left < dropped / 2, `${left} of ${dropped} bytes still held after a paced collection`);
});
