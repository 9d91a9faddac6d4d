/**
 * The recovery use-cases on a job-store adapter, a real distribution registry and a scripted
 * queue port that records what is sent and can refuse a send: plan's ordering (a crash between
 * the plan and its copy messages strands nothing), the reconciler's re-drives and its STUCK
 * verdict, and start-up recovery after the queues were lost. Registered on dynalite, on
 * DynamoDB Local and in memory, like the job-store suite.
 */
import assert from "node:assert/strict";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { after, before, beforeEach, describe, it } from "node:test";
import { parseConfig } from "../../lib/config.ts";
import { FerryError } from "../../lib/errors.ts";
import { type PipelineDeps, silentLog } from "../../lib/pipeline/deps.ts";
import { planJob } from "../../lib/pipeline/plan.ts";
import { reconcile } from "../../lib/pipeline/recovery.ts";
import { poolFromConfig } from "../../lib/pipeline/registries.ts";
import type { AnyMessage, QueueName, QueuePort } from "../../lib/queue/messages.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { DynamoJobStore, ensureTable } from "../../lib/state/dynamodb.ts";
import { type Distribution, startDistribution } from "./distribution.ts";
import type { JobStoreFactory } from "./state-suite.ts";
import { pushImage, randomIndex } from "./images.ts";

/** The job a message is about (every message but a referrer event names one). */
const jobOf = (m: AnyMessage) => ("jobId" in m ? m.jobId : undefined);

/** Records messages per queue; `failNext` refuses the next send to a queue once. */
class ScriptedQueues implements QueuePort {
  sent: Record<QueueName, AnyMessage[]> = { plan: [], copy: [], merge: [] };
  waiting: Record<QueueName, number> = { plan: 0, copy: 0, merge: 0 };
  failNext = new Set<QueueName>();
  async send(queue: QueueName, messages: AnyMessage[]): Promise<void> {
    if (this.failNext.delete(queue)) throw new FerryError("NETWORK", `${queue} send refused (scripted)`, { retryable: true });
    this.sent[queue].push(...messages);
  }
  async backlog(queue: QueueName): Promise<number> {
    return this.waiting[queue];
  }
  async retryLater(): Promise<void> {}
}

/** Registers the use-cases on DynamoDB; `client()` is called lazily, after the stand-in has started. */
export function recoverySuite(name: string, client: () => DynamoDBClient): void {
  let table = 0;
  recoverySuiteOn(name, async ({ now }) => {
    const tableName = `usecases-${table++}`;
    await ensureTable(client(), tableName);
    return new DynamoJobStore(client(), { tableName, now });
  });
}

/** Registers the use-cases on any adapter: `open` is called before each test, for an empty store. */
export function recoverySuiteOn(name: string, open: JobStoreFactory): void {
  let src: Distribution;
  let now = Date.parse("2026-11-30T12:00:00Z");
  let deps: PipelineDeps & { queues: ScriptedQueues };
  const image = randomIndex({ platforms: 3, seed: "usecases" });

  describe(`recovery use-cases on ${name}`, () => {
    before(async () => {
      src = await startDistribution();
      await pushImage(new RegistryClient({ host: src.host }), "app", "v1", image);
    });
    after(async () => {
      await src?.stop();
    });
    beforeEach(async () => {
      const config = parseConfig({ version: 1, pipeline: { stuckAfter: 60, maxRedrives: 2 } });
      deps = { config, store: await open({ now: () => now }), queues: new ScriptedQueues(), registries: poolFromConfig(config), log: silentLog };
    });

    const request = () => ({
      source: `${src.host}/app:v1`,
      destinations: [`${src.host}/mirror/app`],
      trigger: "api" as const,
      eventTime: new Date(now).toISOString(),
    });
    const delivery = (receiveCount = 1) => ({ receiveCount, maxReceiveCount: 5 });

    describe("plan", () => {
      it("records tasks before it sends them and marks the job copying only after: a failed send strands nothing", async () => {
        await deps.store.createJob({ id: "j1", request: request() });
        deps.queues.failNext.add("copy");
        await assert.rejects(planJob(deps, "j1", delivery(1)), (e: unknown) => e instanceof FerryError && e.code === "NETWORK");
        let job = await deps.store.getJob("j1", { withTasks: true });
        assert.equal(job?.status, "planning", "not copying while its copy messages were never sent");
        assert.equal(job?.taskCount, 3);
        assert.equal(job?.tasks?.length, 3);
        assert.equal(deps.queues.sent.copy.length, 0);
        // the redelivery resumes with the plan it recorded
        assert.equal(await planJob(deps, "j1", delivery(2)), "planned");
        job = await deps.store.getJob("j1");
        assert.equal(job?.status, "copying");
        assert.deepEqual(new Set(deps.queues.sent.copy.map((m) => (m as { digest: string }).digest)), new Set(image.children.map((c) => c.digest)));
      });

      it("a duplicate plan message after copying began changes nothing", async () => {
        await deps.store.createJob({ id: "j2", request: request() });
        await planJob(deps, "j2", delivery());
        const sent = deps.queues.sent.copy.length;
        assert.equal(await planJob(deps, "j2", delivery()), "ignored");
        assert.equal(deps.queues.sent.copy.length, sent);
      });

      it("a missing source fails the job at once with a code and the side; a retryable failure only on its last delivery", async () => {
        await deps.store.createJob({ id: "j3", request: { ...request(), source: `${src.host}/app:nope` } });
        assert.equal(await planJob(deps, "j3", delivery()), "failed");
        const job = await deps.store.getJob("j3");
        assert.equal(job?.status, "failed");
        assert.equal(job?.error?.side, "source");
        assert.equal(job?.error?.retryable, false);
        assert.ok(job?.error?.code === "NOT_FOUND", JSON.stringify(job?.error));
        // a registry that does not answer: retryable, so only the last delivery records it
        await deps.store.createJob({ id: "j4", request: { ...request(), source: "127.0.0.1:9/app:v1" } });
        await assert.rejects(planJob(deps, "j4", { receiveCount: 1, maxReceiveCount: 2 }));
        assert.equal((await deps.store.getJob("j4"))?.status, "queued", "not failed before its last delivery");
        await assert.rejects(planJob(deps, "j4", { receiveCount: 2, maxReceiveCount: 2 }), "the last delivery still goes to the DLQ");
        const failed = await deps.store.getJob("j4");
        assert.equal(failed?.status, "failed");
        assert.equal(failed?.error?.retryable, true);
        assert.equal(failed?.error?.side, "source");
      });
    });

    describe("reconciler", () => {
      it("re-drives a job that stopped moving, counts it, and fails it STUCK after maxRedrives when nothing waits in its queue", async () => {
        await deps.store.createJob({ id: "s1", request: request() });
        await planJob(deps, "s1", delivery());
        const copies = deps.queues.sent.copy.length;
        now += 30_000;
        assert.equal((await reconcile(deps, { now: () => now })).redriven, 0, "not idle long enough");
        now += 31_000;
        let r = await reconcile(deps, { now: () => now });
        assert.equal(r.redriven, 1);
        assert.equal(deps.queues.sent.copy.length, copies + 3, "the pending copies are sent again");
        assert.equal((await deps.store.getJob("s1"))?.redrives, 1);
        now += 61_000;
        r = await reconcile(deps, { now: () => now });
        assert.equal(r.redriven, 1);
        // two re-drives, still nothing: with copies waiting in the queue it is a backlog, not stuck
        now += 61_000;
        deps.queues.waiting.copy = 7;
        r = await reconcile(deps, { now: () => now });
        assert.equal(r.failed, 0);
        assert.equal(r.redriven, 1);
        now += 61_000;
        deps.queues.waiting.copy = 0;
        r = await reconcile(deps, { now: () => now });
        assert.equal(r.failed, 1);
        const job = await deps.store.getJob("s1");
        assert.equal(job?.status, "failed");
        assert.equal(job?.error?.code, "STUCK");
        assert.equal(job?.error?.retryable, true);
        assert.equal((await reconcile(deps, { now: () => now })).active, 0, "a final job leaves the index");
      });

      it("at start-up (empty queues) every job not yet final gets its work again, uncounted, whatever its stage", async () => {
        await deps.store.createJob({ id: "u-queued", request: request() });
        await deps.store.createJob({ id: "u-copying", request: request() });
        await planJob(deps, "u-copying", delivery());
        await deps.store.createJob({ id: "u-done", request: request() });
        await deps.store.updateJob("u-done", { status: "succeeded" });
        deps.queues.sent = { plan: [], copy: [], merge: [] };
        const r = await reconcile(deps, { startup: true, now: () => now });
        assert.equal(r.active, 2);
        assert.equal(r.redriven, 2);
        assert.deepEqual(
          deps.queues.sent.plan.map((m) => jobOf(m)),
          ["u-queued"],
        );
        assert.equal(deps.queues.sent.copy.length, 3);
        assert.equal((await deps.store.getJob("u-copying"))?.redrives ?? 0, 0, "restarts are not the job's fault");
      });

      it("a copying job whose tasks all finished but whose merge message was lost gets its merge", async () => {
        await deps.store.createJob({ id: "m1", request: request() });
        await planJob(deps, "m1", delivery());
        for (const m of deps.queues.sent.copy.filter((x) => jobOf(x) === "m1"))
          await deps.store.completeTask("m1", (m as { taskId: string }).taskId, { state: "done" });
        now += 61_000;
        await reconcile(deps, { now: () => now });
        assert.deepEqual(
          deps.queues.sent.merge.map((m) => jobOf(m)),
          ["m1"],
        );
      });
    });
  });
}
