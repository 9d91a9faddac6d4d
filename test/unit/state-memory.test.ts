/**
 * The job-store and recovery suites on the in-memory adapter (the same suites dynalite and
 * DynamoDB Local run), and what only the memory adapter does: drop a finished job once its TTL
 * passes, and never share stored state with a caller.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { errorOf } from "../../lib/errors.ts";
import { MemoryJobStore } from "../../lib/state/memory.ts";
import type { Task } from "../../lib/state/store.ts";
import { recoverySuiteOn } from "../helpers/recovery-suite.ts";
import { jobStoreSuiteOn } from "../helpers/state-suite.ts";

{
  let store: MemoryJobStore | undefined;
  jobStoreSuiteOn(
    "memory",
    async ({ now }) => {
      store = new MemoryJobStore({ now });
      return store;
    },
    {
      ttlOf: async (jobId) => store?.expiresAt(jobId),
      // Each operation here is atomic: a write from elsewhere can only land before it.
      interleave: async (fn) => {
        await fn();
      },
    },
  );
}
recoverySuiteOn("memory", async ({ now }) => new MemoryJobStore({ now }));

const request = { source: "127.0.0.1:5000/app:v1", destinations: ["127.0.0.1:5001/app"], trigger: "api" as const, eventTime: "2026-01-01T00:00:00.000Z" };

describe("job store in memory", () => {
  it("drops a finished job once its TTL has passed, and then takes its id again", async () => {
    let now = Date.parse("2026-01-01T00:00:00Z");
    const s = new MemoryJobStore({ now: () => now, ttlDays: 2 });
    await s.createJob({ id: "old", request });
    await s.createJob({ id: "running", request });
    await s.updateJob("old", { status: "failed", error: errorOf("NOT_FOUND", "gone") });
    now += 2 * 86400_000 - 1000;
    assert.equal((await s.getJob("old"))?.status, "failed", "kept until its TTL");
    now += 1000;
    assert.equal(await s.getJob("old"), undefined);
    assert.deepEqual(
      (await s.listJobs(10)).map((j) => j.id),
      ["running"],
      "a job not yet final never expires",
    );
    assert.equal(await s.createJob({ id: "old", request }), true);
  });

  it("hands out copies: mutating what went in or came out changes nothing stored", async () => {
    const s = new MemoryJobStore();
    const req = structuredClone(request);
    await s.createJob({ id: "j", request: req });
    req.destinations.push("elsewhere/app");
    const tasks: Task[] = [{ id: "t0", platform: "linux/amd64", digest: "sha256:0", mediaType: "m", size: 1, destination: "d/r", state: "pending" }];
    await s.putTasks("j", tasks);
    tasks[0]!.state = "done";
    const job = await s.getJob("j", { withTasks: true });
    assert.deepEqual(job?.request.destinations, ["127.0.0.1:5001/app"]);
    assert.equal(job?.tasks?.[0]?.state, "pending");
    job?.request.destinations.push("x");
    job?.done.push("t9");
    const again = await s.getJob("j", { withTasks: true });
    assert.deepEqual(again?.request.destinations, ["127.0.0.1:5001/app"]);
    assert.deepEqual(again?.done, []);
  });
});
