/**
 * Accepted means replicated (issue 9), the short chaos run: 60 replications of multi-platform
 * images through `ferry serve` on a data directory, killed with SIGKILL and restarted 5 times
 * while they run, a fault proxy (503, 429, resets, cut bodies, stalls) on both registries with
 * two outages, duplicate deliveries and 10 jobs racing for one tag. Every accepted job must end final, every
 * succeeded job's destination must hold the source's manifests and blobs, and the raced tag
 * must point at the newest job that succeeded. The long run is bench/chaos.ts.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { runChaos } from "../helpers/chaos.ts";

it("every accepted replication ends final and correct through kill -9 restarts, registry faults, duplicates and a contended tag", {
  timeout: 600_000,
}, async () => {
  const r = await runChaos({ seed: 1, jobs: 60, restarts: 5, contendedTags: 1, jobsPerContendedTag: 10, log: (line) => console.log(line) });

  // The chaos happened.
  assert.ok(r.jobs >= 50, `${r.jobs} jobs accepted`);
  assert.ok(r.restarts >= 5, `${r.restarts} kill -9 restarts`);
  assert.ok(r.faults.source.total > 0, "faults on the source registry");
  assert.ok(r.faults.destination.total > 0, "faults on the destination registry");
  assert.ok(r.contended >= 10, `${r.contended} jobs on one tag`);
  assert.ok(r.duplicates > 0, "duplicate deliveries");

  // Nothing was lost, stranded, corrupted or regressed.
  assert.deepEqual(r.lost, [], `accepted jobs that answer 404 after the restarts (${r.line})`);
  assert.deepEqual(r.stranded, [], `jobs not final after the wait (${r.line})`);
  assert.deepEqual(r.corrupt, [], `succeeded jobs whose destination is incomplete or not the source's (${r.line})`);
  assert.deepEqual(r.regressed, [], `contended tags not at the newest succeeded job (${r.line})`);
  assert.deepEqual(r.duplicateMismatches, [], "one dedupKey, one job");
  assert.equal(r.crashes, 0, "ferry serve never exited by itself");
  assert.equal(r.succeeded + r.failed.length + r.skipped, r.jobs, "every job is final");
});
