/** The job as the API shows it: progress counts a task that succeeded after a late failure report as done, not failed. */
import assert from "node:assert/strict";
import { it } from "node:test";
import { jobView } from "../../../lib/pipeline/operator.ts";
import { MemoryJobStore } from "../../../lib/state/memory.ts";
import { errorOf } from "../../../lib/errors.ts";

const request = { source: "127.0.0.1:5000/app:v1", destinations: ["127.0.0.1:5001/app"], trigger: "api" as const, eventTime: "2026-01-01T00:00:00.000Z" };
const task = (id: string) => ({
  id,
  platform: "linux/amd64",
  digest: `sha256:${id.padEnd(64, "0")}`,
  mediaType: "m",
  size: 1,
  destination: "127.0.0.1:5001/app",
  state: "pending" as const,
});

it("progress: done, and failed only for tasks not also done", async () => {
  const store = new MemoryJobStore();
  await store.createJob({ id: "j", request });
  await store.putTasks("j", [task("a"), task("b"), task("c")]);
  await store.updateJob("j", { taskCount: 3, status: "copying" });
  await store.completeTask("j", "a", { state: "done" });
  await store.completeTask("j", "a", { state: "failed", error: errorOf("REGISTRY", "a late failure of a duplicate delivery") });
  await store.completeTask("j", "b", { state: "failed", error: errorOf("AUTH", "denied") });
  const view = jobView((await store.getJob("j", { withTasks: true })) as NonNullable<Awaited<ReturnType<typeof store.getJob>>>);
  assert.deepEqual(view.progress, { total: 3, done: 1, failed: 1 });
  assert.deepEqual(
    view.tasks?.map((t) => t.state),
    ["done", "failed", "pending"],
  );
});
