/**
 * The job-store suite, run against dynalite (the embedded default), DynamoDB Local (full
 * DynamoDB semantics) and the in-memory adapter, so every adapter keeps the same contract.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import type { ReplicationRequest } from "../../lib/queue/messages.ts";
import { DynamoJobStore, ensureTable } from "../../lib/state/dynamodb.ts";
import { errorOf, FerryError } from "../../lib/errors.ts";
import { ACTIVE_STATUSES, type JobStore, type Task } from "../../lib/state/store.ts";
import { writtenTagsCases } from "./written-tags-suite.ts";

const request = (source = "127.0.0.1:5000/app:v1"): ReplicationRequest => ({
  source,
  destinations: ["127.0.0.1:5001/app"],
  trigger: "api",
  eventTime: new Date().toISOString(),
});
const tasks = (n: number): Task[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `t${i}`,
    platform: `linux/p${i}`,
    digest: `sha256:${String(i).padStart(64, "0")}`,
    mediaType: "m",
    size: i,
    destination: "d/r",
    state: "pending",
  }));

/** Opens an empty store whose clock is `now`; called lazily, after any stand-in has started. */
export type JobStoreFactory = (opts: { now: () => number }) => Promise<JobStore>;

/** What the port cannot say, read from (or done inside) the adapter. */
export interface JobStoreProbe {
  /** A job's expiry (epoch seconds), if it has one. */
  ttlOf(jobId: string): Promise<number | undefined>;
  /**
   * Runs `fn` inside the store's next write: after the reads an operation decides on, before its
   * write is sent, as another process's write would land there. An adapter whose operations are
   * atomic (memory) runs it at once, before the operation.
   */
  interleave(fn: () => Promise<unknown>): Promise<void>;
}

/** Registers the suite on DynamoDB; `client()` is called lazily, after the stand-in has started. */
export function jobStoreSuite(name: string, client: () => DynamoDBClient): void {
  const table = `ferry-${randomUUID().slice(0, 8)}`;
  // The store's client runs an interleaved write first when it sends its next UpdateItem.
  let nextWrite: (() => Promise<unknown>) | undefined;
  const send = async (command: Parameters<DynamoDBClient["send"]>[0]) => {
    const fn = command instanceof UpdateItemCommand ? nextWrite : undefined;
    nextWrite = fn ? undefined : nextWrite;
    if (fn) await fn();
    return client().send(command);
  };
  const open: JobStoreFactory = async ({ now }) => {
    await ensureTable(client(), table);
    return new DynamoJobStore({ send } as unknown as DynamoDBClient, { tableName: table, now });
  };
  // The raw item's `ttl` attribute: absent, or the number DynamoDB's TTL deletes on.
  const ttlOf = async (jobId: string) => {
    const ttl = (await client().send(new GetItemCommand({ TableName: table, Key: { pk: { S: `JOB#${jobId}` }, sk: { S: "JOB" } } }))).Item?.ttl;
    return ttl === undefined ? undefined : Number(ttl.N);
  };
  const interleave = async (fn: () => Promise<unknown>) => {
    nextWrite = fn;
  };
  jobStoreSuiteOn(name, open, { ttlOf, interleave });
}

/** Registers the suite on any adapter: `open` is called once, the store shared by every test. */
export function jobStoreSuiteOn(name: string, open: JobStoreFactory, probe: JobStoreProbe): void {
  let store: JobStore;
  let now = Date.now();
  const setup = async () => {
    if (store) return store;
    store = await open({ now: () => now });
    return store;
  };

  describe(`job store on ${name}`, () => {
    writtenTagsCases(setup);

    it("a rate budget grants up to its burst, then nothing until it refills; concurrent takes never grant more than there is", async () => {
      const store = await setup();
      assert.deepEqual(await store.takeTokens("reg.example", 8, 4, 10), { granted: 8, retryAfterMs: 0 });
      assert.deepEqual(await store.takeTokens("reg.example", 8, 4, 10), { granted: 2, retryAfterMs: 0 });
      const empty = await store.takeTokens("reg.example", 1, 4, 10);
      assert.equal(empty.granted, 0);
      assert.ok(empty.retryAfterMs > 0 && empty.retryAfterMs <= 250, String(empty.retryAfterMs));
      now += 1000; // 4 tokens a second
      const grants = await Promise.all(Array.from({ length: 6 }, () => store.takeTokens("reg.example", 1, 4, 10)));
      assert.equal(
        grants.reduce((n, g) => n + g.granted, 0),
        4,
        "exactly the refill, whatever the races",
      );
      assert.equal((await store.takeTokens("other.example", 3, 1, 3)).granted, 3, "budgets are per key");
    });

    it("a held budget grants nothing until the hold ends, for every taker", async () => {
      const store = await setup();
      await store.holdBudget("held.example", now + 30_000);
      const held = await store.takeTokens("held.example", 1, 10, 10);
      assert.equal(held.granted, 0);
      assert.ok(held.retryAfterMs > 29_000 && held.retryAfterMs <= 30_000, String(held.retryAfterMs));
      now += 31_000;
      assert.equal((await store.takeTokens("held.example", 5, 10, 10)).granted, 5);
    });

    it("creates a job once: a second create with the same id is refused (deduplication)", async () => {
      const s = await setup();
      assert.equal(await s.createJob({ id: "dup", request: request() }), true);
      assert.equal(await s.createJob({ id: "dup", request: request("other") }), false);
      const job = await s.getJob("dup");
      assert.equal(job?.status, "queued");
      assert.equal(job?.request.source, "127.0.0.1:5000/app:v1");
    });

    it("moves status only from the allowed states", async () => {
      const s = await setup();
      await s.createJob({ id: "st", request: request() });
      assert.equal(await s.updateJob("st", { status: "planning" }, ["queued"]), true);
      assert.equal(await s.updateJob("st", { status: "planning" }, ["queued"]), false, "already planning");
      assert.equal(await s.updateJob("nope", { status: "planning" }), false, "missing job");
      assert.equal((await s.getJob("st"))?.status, "planning");
      // every field at once: several are DynamoDB reserved words (status, plan, result, error, ttl)
      const plan = {
        source: "r/s",
        sourceDigest: "sha256:a",
        root: { bytes: "e30=", digest: "sha256:a", mediaType: "m", rebuilt: false },
        destinations: [{ repository: "r/d", tag: "v1" }],
        merge: false,
        platforms: ["linux/amd64"],
      };
      const result = { digest: "sha256:a", addressByDigest: "r/d@sha256:a", destinations: [] };
      const why = errorOf("NOT_FOUND", "why", { side: "source" });
      assert.equal(await s.updateJob("st", { status: "failed", plan, taskCount: 3, result, error: why }, ["planning"]), true);
      const all = await s.getJob("st");
      assert.deepEqual([all?.status, all?.plan, all?.taskCount, all?.result, all?.error], ["failed", plan, 3, result, why]);
    });

    it("sets a TTL when a job finishes", async () => {
      const s = await setup();
      await s.createJob({ id: "ttl", request: request() });
      assert.equal(await probe.ttlOf("ttl"), undefined);
      await s.updateJob("ttl", { status: "succeeded", result: { digest: "sha256:x", addressByDigest: "a@sha256:x", destinations: [] } });
      const ttl = Number(await probe.ttlOf("ttl"));
      assert.ok(ttl > now / 1000 + 13 * 86400 && ttl < now / 1000 + 15 * 86400);
      assert.equal((await s.getJob("ttl"))?.result?.digest, "sha256:x");
    });

    it("lists recent jobs, newest first, with a limit", async () => {
      const s = await setup();
      for (let i = 0; i < 5; i++) {
        now += 1000;
        await s.createJob({ id: `list-${i}`, request: request() });
      }
      const jobs = await s.listJobs(3);
      assert.deepEqual(
        jobs.map((j) => j.id),
        ["list-4", "list-3", "list-2"],
      );
    });

    it("stores tasks and counts each completion once, whatever the redeliveries", async () => {
      const s = await setup();
      await s.createJob({ id: "tk", request: request() });
      await s.putTasks("tk", tasks(30));
      await s.updateJob("tk", { taskCount: 30, status: "copying" });
      let c = await s.completeTask("tk", "t0", { state: "done" });
      assert.deepEqual(c, { done: 1, failed: 0, total: 30, complete: false });
      c = await s.completeTask("tk", "t0", { state: "done" });
      assert.equal(c.done, 1, "a duplicate completion counts once");
      await s.noteTaskAttempt("tk", "t1", errorOf("REGISTRY", "HTTP 503", { retryable: true }));
      c = await s.completeTask("tk", "t1", { state: "failed", error: errorOf("AUTH", "denied", { side: "destination" }) });
      assert.equal(c.failed, 1);
      const job = await s.getJob("tk", { withTasks: true });
      assert.equal(job?.tasks?.length, 30);
      const t1 = job?.tasks?.find((t) => t.id === "t1");
      assert.equal(t1?.state, "failed");
      assert.equal(t1?.error?.code, "AUTH");
      assert.equal(t1?.error?.side, "destination");
      assert.equal(t1?.attempts, 1);
      // a success after a failed attempt: done, and the attempt's error no longer shown
      await s.noteTaskAttempt("tk", "t2", errorOf("REGISTRY", "HTTP 503", { retryable: true }));
      await s.completeTask("tk", "t2", { state: "done" });
      const t2 = (await s.getJob("tk", { withTasks: true }))?.tasks?.find((t) => t.id === "t2");
      assert.equal(t2?.state, "done");
      assert.equal(t2?.error, undefined);
      // ... and an attempt reported after it succeeded (a duplicate delivery) does not show either
      await s.noteTaskAttempt("tk", "t2", errorOf("REGISTRY", "late attempt", { retryable: true }));
      const late = (await s.getJob("tk", { withTasks: true }))?.tasks?.find((t) => t.id === "t2");
      assert.deepEqual([late?.state, late?.error], ["done", undefined]);
      // a late failure never overwrites a success
      await s.completeTask("tk", "t0", { state: "failed", error: errorOf("REGISTRY", "late") });
      assert.equal((await s.getJob("tk", { withTasks: true }))?.tasks?.find((t) => t.id === "t0")?.state, "done");
      // a failure reported for a task the job does not have creates no task
      await s.completeTask("tk", "ghost", { state: "failed", error: errorOf("REGISTRY", "stray") }).catch(() => undefined);
      assert.equal((await s.getJob("tk", { withTasks: true }))?.tasks?.length, 30);
    });

    it("50 parallel completions with duplicates: the set completes, and exactly one task enqueues the merge", async () => {
      const s = await setup();
      await s.createJob({ id: "fan", request: request() });
      await s.putTasks("fan", tasks(50));
      await s.updateJob("fan", { taskCount: 50, status: "copying" });
      const ids = [...Array.from({ length: 50 }, (_, i) => `t${i}`), "t3", "t7", "t49"];
      const results = await Promise.all(ids.map((id) => s.completeTask("fan", id, { state: "done" }).then((c) => ({ id, c }))));
      // One claim per task: a redelivery claims as its task, and the same task wins again (asserted
      // below), so a task completing twice after the set is full must not count as two winners.
      const completers = [...new Map(results.filter((r) => r.c.complete).map((r) => [r.id, r])).values()];
      assert.ok(completers.length >= 1);
      const claims = await Promise.all(completers.map((r) => s.claimMergeEnqueue("fan", r.id)));
      assert.equal(claims.filter(Boolean).length, 1, "exactly one enqueues the merge");
      const winner = completers[claims.indexOf(true)]?.id ?? "";
      assert.equal(await s.claimMergeEnqueue("fan", winner), true, "the same task (a redelivery) may enqueue again");
      assert.equal((await s.getJob("fan"))?.done.length, 50);
    });

    it("starts a merge once per job; a redelivery of the same message may resume it; a lapsed claim can be taken", async () => {
      const s = await setup();
      await s.createJob({ id: "mg", request: request() });
      await s.updateJob("mg", { status: "copying" });
      const [a, b] = await Promise.all([s.claimMerge("mg", "msg-1", 10_000), s.claimMerge("mg", "msg-2", 10_000)]);
      assert.equal([a, b].filter(Boolean).length, 1);
      const winner = a ? "msg-1" : "msg-2";
      assert.equal(await s.claimMerge("mg", winner, 10_000), true);
      assert.equal(await s.claimMerge("mg", "redriven", 10_000), false, "held");
      now += 11_000; // the claim lapses (its merge died): a redriven message with a new id takes it
      assert.equal(await s.claimMerge("mg", "redriven", 10_000), true);
      await s.releaseMerge("mg", "redriven");
      assert.equal(await s.claimMerge("mg", "deferred-again", 10_000), true, "a released claim is free at once");
      const job = await s.getJob("mg");
      assert.equal(job?.status, "merging");
      await s.updateJob("mg", { status: "succeeded" });
      assert.equal(await s.claimMerge("mg", "deferred-again", 10_000), false, "never after the job finished");
    });

    it("lists the jobs not yet final (the reconciler's index), across shards, until they finish", async () => {
      const s = await setup();
      const ids = Array.from({ length: 20 }, (_, i) => `act-${i}`);
      for (const id of ids) await s.createJob({ id, request: request() });
      const active = new Set((await s.listActive()).map((j) => j.id));
      for (const id of ids) assert.ok(active.has(id), id);
      for (const id of ids.slice(0, 15))
        await s.updateJob(id, { status: id.endsWith("3") ? "failed" : "succeeded", ...(id.endsWith("3") ? { error: errorOf("NOT_FOUND", "x") } : {}) });
      const still = new Set((await s.listActive()).map((j) => j.id));
      assert.deepEqual(
        ids.filter((id) => still.has(id)),
        ids.slice(15),
      );
    });

    it("lists just the oldest jobs not yet final when bounded (a metrics scrape), across shards", async () => {
      const s = await setup();
      const saved = now;
      const ids = Array.from({ length: 12 }, (_, i) => `oldest-${i}`);
      for (const [i, id] of ids.entries()) {
        now = Date.parse("2001-01-01T00:00:00.000Z") + i * 1000; // older than every other job here, one second apart
        await s.createJob({ id, request: request() });
      }
      now = saved;
      await s.updateJob("oldest-0", { status: "succeeded" });
      const bounded = await s.listActive({ limit: 3 });
      assert.deepEqual(
        bounded.map((j) => j.id),
        ["oldest-1", "oldest-2", "oldest-3"],
      );
      assert.deepEqual(bounded, (await s.listActive()).slice(0, 3), "the same as the unbounded list's head");
      for (const id of ids.slice(1)) await s.updateJob(id, { status: "succeeded" });
    });

    it("records the plan once; touching and re-driving move updatedAt; a redrive is applied once per seen state", async () => {
      const s = await setup();
      await s.createJob({ id: "rp", request: request() });
      const plan = {
        source: "r/s",
        sourceDigest: "sha256:a",
        root: { bytes: "e30=", digest: "sha256:a", mediaType: "m", rebuilt: false },
        destinations: [{ repository: "r/d", tag: "v1" }],
        merge: false,
        platforms: [],
      };
      await s.createJob({ id: "rp-late", request: request() });
      await s.updateJob("rp-late", { status: "copying" });
      assert.equal(await s.recordPlan("rp-late", plan, 2), false, "only while queued or planning");
      assert.equal(await s.recordPlan("rp", plan, 2), true);
      assert.equal((await s.getJob("rp"))?.status, "planning", "recording the plan starts planning");
      assert.equal(await s.recordPlan("rp", { ...plan, sourceDigest: "sha256:b" }, 3), false, "a second plan run loses");
      assert.equal((await s.getJob("rp"))?.plan?.sourceDigest, "sha256:a");
      now += 1000;
      await s.touchJob("rp");
      const seen = (await s.getJob("rp"))?.updatedAt ?? "";
      assert.equal(seen, new Date(now).toISOString());
      now += 1000;
      const [x, y] = await Promise.all([s.redriveJob("rp", { seenUpdatedAt: seen, count: true }), s.redriveJob("rp", { seenUpdatedAt: seen, count: true })]);
      assert.deepEqual(
        [x, y].filter((v) => v !== undefined),
        [1],
        "two reconcilers: one redrive",
      );
      assert.equal(await s.redriveJob("rp", { count: false }), 1, "an uncounted redrive");
      await s.updateJob("rp", { status: "succeeded" });
      assert.equal(await s.redriveJob("rp", { count: true }), undefined, "never a final job");
    });

    it("re-opens a job that failed with a retryable error (a DLQ redrive), never a permanent failure", async () => {
      const s = await setup();
      await s.createJob({ id: "ro", request: request() });
      await s.updateJob("ro", { status: "planning" });
      const plan = {
        source: "r/s",
        sourceDigest: "sha256:a",
        root: { bytes: "e30=", digest: "sha256:a", mediaType: "m", rebuilt: false },
        destinations: [{ repository: "r/d", tag: "v1" }],
        merge: false,
        platforms: [],
      };
      await s.recordPlan("ro", plan, 2);
      await s.putTasks("ro", tasks(2));
      await s.updateJob("ro", { status: "copying" });
      await s.completeTask("ro", "t0", { state: "done" });
      await s.completeTask("ro", "t1", { state: "failed", error: errorOf("REGISTRY", "503", { retryable: true }) });
      assert.equal(await s.claimMergeEnqueue("ro", "t1"), true);
      await s.updateJob("ro", { status: "failed", error: errorOf("REGISTRY", "503", { retryable: true }) });
      assert.ok(!(await s.listActive()).some((j) => j.id === "ro"));
      assert.equal(await s.reopenJob("ro"), true);
      const job = await s.getJob("ro", { withTasks: true });
      assert.equal(job?.status, "copying");
      assert.equal(job?.error, undefined);
      assert.deepEqual(job?.failed, []);
      assert.deepEqual(job?.done, ["t0"]);
      assert.equal(job?.tasks?.find((t) => t.id === "t1")?.state, "pending");
      assert.ok(
        (await s.listActive()).some((j) => j.id === "ro"),
        "back in the reconciler's index",
      );
      assert.equal(await s.reopenJob("ro"), false, "only a failed job");
      const c = await s.completeTask("ro", "t1", { state: "done" });
      assert.equal(c.complete, true);
      assert.equal(await s.claimMergeEnqueue("ro", "t1"), true, "the merge can be enqueued again");
      await s.createJob({ id: "perm", request: request() });
      await s.updateJob("perm", { status: "failed", error: errorOf("NOT_FOUND", "gone", { side: "source" }) });
      assert.equal(await s.reopenJob("perm"), false);
    });

    it("a late write never moves a final job: without `from` only a job under way changes, and only a re-open brings one back", async () => {
      const s = await setup();
      const result = { digest: "sha256:a", addressByDigest: "r/d@sha256:a", destinations: [] };
      await s.createJob({ id: "late", request: request() });
      await s.updateJob("late", { status: "copying" });
      assert.equal(await s.updateJob("late", { status: "succeeded", result }), true);
      assert.equal(await s.updateJob("late", { status: "copying" }), false, "a late write does not un-finalize the job");
      assert.equal(await s.updateJob("late", { status: "failed", error: errorOf("REGISTRY", "late", { retryable: true }) }), false, "nor rewrite its outcome");
      assert.equal(await s.updateJob("late", { status: "merging" }, ["succeeded", "merging"]), false, "a status under way, never from a final one");
      const job = await s.getJob("late");
      assert.deepEqual([job?.status, job?.result, job?.error], ["succeeded", result, undefined]);
      assert.ok(!(await s.listActive()).some((j) => j.id === "late"), "still out of the reconciler's index");
      // The legitimate moves: an operator fails a job under way; a re-open brings a retryable failure back.
      await s.createJob({ id: "late-op", request: request() });
      assert.equal(await s.updateJob("late-op", { status: "failed", error: errorOf("CANCELLED", "by hand", { retryable: true }) }, ACTIVE_STATUSES), true);
      assert.equal(await s.updateJob("late-op", { status: "succeeded", result }), false);
      assert.equal(await s.reopenJob("late-op"), true);
      assert.equal((await s.getJob("late-op"))?.status, "queued");
      assert.equal(await s.updateJob("late-op", { status: "planning" }), true, "re-opened, it is under way again");
    });

    it("completing a task of a job that does not exist fails with NOT_FOUND", async () => {
      const s = await setup();
      const notFound = (e: unknown) => e instanceof FerryError && e.code === "NOT_FOUND";
      await assert.rejects(s.completeTask("no-such-job", "t0", { state: "done" }), notFound);
      await assert.rejects(s.completeTask("no-such-job", "t0", { state: "failed", error: errorOf("REGISTRY", "503", { retryable: true }) }), notFound);
      assert.equal(await s.getJob("no-such-job"), undefined, "and creates no job");
    });

    it("re-opens a failure once: concurrent re-opens, and writes landing while a re-open decides, leave one consistent job", async () => {
      const s = await setup();
      const plan = {
        source: "r/s",
        sourceDigest: "sha256:a",
        root: { bytes: "e30=", digest: "sha256:a", mediaType: "m", rebuilt: false },
        destinations: [{ repository: "r/d", tag: "v1" }],
        merge: false,
        platforms: [],
      };
      const retryable = errorOf("STUCK", "no progress", { retryable: true });
      const failedJob = async (id: string) => {
        await s.createJob({ id, request: request() });
        await s.recordPlan(id, plan, 3);
        await s.putTasks(id, tasks(3));
        await s.updateJob(id, { status: "copying" });
        await s.completeTask(id, "t0", { state: "done" });
        await s.completeTask(id, "t1", { state: "failed", error: errorOf("REGISTRY", "503", { retryable: true }) });
        await s.updateJob(id, { status: "failed", error: retryable });
      };
      await failedJob("rc-both");
      const both = await Promise.all([s.reopenJob("rc-both"), s.reopenJob("rc-both")]);
      assert.deepEqual(both.filter(Boolean), [true], "two re-opens at once: one wins");
      // Another re-open lands between this one's read and its write: this one loses.
      await failedJob("rc-between");
      let inner: boolean | undefined;
      await probe.interleave(async () => {
        inner = await s.reopenJob("rc-between");
      });
      assert.equal(await s.reopenJob("rc-between"), false);
      assert.equal(inner, true);
      // A late task failure lands while the re-open decides: it is not left in the failed set
      // (where it would never be re-sent), and every task not done is pending work again.
      await failedJob("rc-late-task");
      await probe.interleave(() => s.completeTask("rc-late-task", "t2", { state: "failed", error: errorOf("REGISTRY", "late") }));
      assert.equal(await s.reopenJob("rc-late-task"), true);
      let job = await s.getJob("rc-late-task");
      assert.deepEqual([job?.status, job?.done, job?.failed], ["copying", ["t0"], []]);
      // A finishing write (a late merge) lands while the re-open decides: it is refused, the re-open wins.
      await failedJob("rc-late-merge");
      let late: boolean | undefined;
      await probe.interleave(async () => {
        late = await s.updateJob("rc-late-merge", { status: "succeeded", result: { digest: "sha256:a", addressByDigest: "r/d@sha256:a", destinations: [] } });
      });
      assert.equal(await s.reopenJob("rc-late-merge"), true);
      assert.equal(late, false);
      job = await s.getJob("rc-late-merge");
      assert.deepEqual([job?.status, job?.result, job?.error], ["copying", undefined, undefined]);
    });

    it("records where each source manifest went: several destinations, idempotent, kept apart by source and digest", async () => {
      const s = await setup();
      const src = "src.example/app";
      const digest = (n: number) => `sha256:${String(n).padStart(64, "a")}`;
      assert.deepEqual(await s.replicasOf(src, digest(1)), [], "none yet");
      await s.addReplicas(src, [digest(1), digest(2)], "dst.example/one");
      await s.addReplicas(src, [digest(1), digest(2), digest(1)], "dst.example/one");
      await s.addReplicas(src, [digest(1)], "dst.example/two");
      await s.addReplicas(src, [], "dst.example/none");
      assert.deepEqual((await s.replicasOf(src, digest(1))).sort(), ["dst.example/one", "dst.example/two"]);
      assert.deepEqual(await s.replicasOf(src, digest(2)), ["dst.example/one"], "no duplicates");
      assert.deepEqual(await s.replicasOf("src.example/other", digest(1)), [], "another source's manifest of the same digest");
      // An index's children: more digests than are written at once.
      const many = Array.from({ length: 30 }, (_, i) => digest(100 + i));
      await s.addReplicas(src, many, "dst.example/three");
      for (const d of many) assert.deepEqual(await s.replicasOf(src, d), ["dst.example/three"], d);
    });

    it("holds jobs for a signature: taking them returns each once and clears them, even under concurrent takes", async () => {
      const s = await setup();
      const src = "src.example/held";
      const digest = `sha256:${"b".repeat(64)}`;
      assert.deepEqual(await s.takeHeld(src, digest), [], "nothing held");
      await s.addReplicas(src, [digest], "dst.example/one");
      assert.deepEqual(await s.takeHeld(src, digest), [], "replicas are not holds");
      await s.holdForSignature(src, digest, "job-1");
      await s.holdForSignature(src, digest, "job-1");
      await s.holdForSignature(src, digest, "job-2");
      assert.deepEqual(await s.takeHeld(`${src}-other`, digest), [], "kept apart by source");
      assert.deepEqual((await s.takeHeld(src, digest)).sort(), ["job-1", "job-2"]);
      assert.deepEqual(await s.takeHeld(src, digest), [], "taken: cleared");
      assert.deepEqual(await s.replicasOf(src, digest), ["dst.example/one"], "taking leaves the replicas");
      await s.holdForSignature(src, digest, "job-3");
      assert.deepEqual(await s.takeHeld(src, digest), ["job-3"], "a hold after a take is taken next");
      // Many takers at once: every held job comes out exactly once.
      const ids = Array.from({ length: 20 }, (_, i) => `job-c${i}`);
      for (const id of ids) await s.holdForSignature(src, digest, id);
      const taken = (await Promise.all(Array.from({ length: 5 }, () => s.takeHeld(src, digest)))).flat();
      assert.deepEqual(taken.sort(), [...ids].sort());
      // A take landing while another decides: still each job once.
      await s.holdForSignature(src, digest, "job-x");
      let inner: string[] = [];
      await probe.interleave(async () => {
        inner = await s.takeHeld(src, digest);
      });
      const outer = await s.takeHeld(src, digest);
      assert.deepEqual([...inner, ...outer], ["job-x"]);
    });

    it("requeues a job that failed with a listed code as if new: plan, tasks, outcomes and claims gone, back in the index", async () => {
      const s = await setup();
      const plan = {
        source: "r/s",
        sourceDigest: "sha256:a",
        root: { bytes: "e30=", digest: "sha256:a", mediaType: "m", rebuilt: false },
        destinations: [{ repository: "r/d", tag: "v1" }],
        merge: false,
        platforms: [],
      };
      const unsigned = errorOf("AUTH", "not signed", { side: "source" });
      const failedWith = async (id: string, error = unsigned) => {
        await s.createJob({ id, request: request() });
        await s.recordPlan(id, plan, 30);
        await s.putTasks(id, tasks(30));
        await s.updateJob(id, { status: "copying" });
        await s.completeTask(id, "t0", { state: "done" });
        await s.completeTask(id, "t1", { state: "failed", error: errorOf("REGISTRY", "503") });
        assert.equal(await s.claimMergeEnqueue(id, "t1"), true);
        assert.equal(await s.claimMerge(id, "merge-1", 3_600_000), true);
        assert.equal(await s.redriveJob(id, { count: true }), 1);
        assert.equal(await s.claimMerge(id, "merge-1", 3_600_000), true);
        await s.updateJob(id, { status: "failed", error }, ["merging"]);
      };
      await failedWith("rq");
      await failedWith("rq-sibling");
      assert.equal(await s.requeueJob("rq", ["NOT_FOUND", "STUCK"]), false, "not a listed code");
      assert.equal(await s.requeueJob("rq", []), false, "no code listed");
      assert.equal((await s.getJob("rq"))?.status, "failed");
      now += 1000;
      const both = await Promise.all([s.requeueJob("rq", ["NOT_FOUND", "AUTH"]), s.requeueJob("rq", ["AUTH"])]);
      assert.deepEqual(both.filter(Boolean), [true], "two requeues at once: one wins");
      const job = await s.getJob("rq", { withTasks: true });
      assert.deepEqual(
        [job?.status, job?.plan, job?.taskCount, job?.done, job?.failed, job?.result, job?.error, job?.tasks, job?.redrives, job?.updatedAt],
        ["queued", undefined, undefined, [], [], undefined, undefined, [], 1, new Date(now).toISOString()],
      );
      assert.equal(await probe.ttlOf("rq"), undefined, "no expiry while under way");
      assert.ok(
        (await s.listActive()).some((j) => j.id === "rq"),
        "back in the reconciler's index",
      );
      assert.equal((await s.getJob("rq-sibling", { withTasks: true }))?.tasks?.length, 30, "another job's tasks stay");
      assert.equal(await s.requeueJob("rq", ["AUTH"]), false, "queued now, not failed");
      // It runs again from the start: a new plan, new tasks, a new merge (the old claims are gone).
      assert.equal(await s.recordPlan("rq", { ...plan, sourceDigest: "sha256:b" }, 1), true);
      await s.putTasks("rq", tasks(1));
      await s.updateJob("rq", { status: "copying" });
      assert.deepEqual(await s.completeTask("rq", "t0", { state: "done" }), { done: 1, failed: 0, total: 1, complete: true });
      assert.equal(await s.claimMergeEnqueue("rq", "t0"), true);
      assert.equal(await s.claimMerge("rq", "merge-2", 10_000), true);
      // A second failure with the code can be requeued again.
      await s.updateJob("rq", { status: "failed", error: unsigned });
      assert.equal(await s.requeueJob("rq", ["AUTH"]), true);
    });

    it("requeues only a failure: never a job that succeeded or is under way, nor one whose code was cleared by a re-open", async () => {
      const s = await setup();
      const result = { digest: "sha256:a", addressByDigest: "r/d@sha256:a", destinations: [] };
      await s.createJob({ id: "rq-ok", request: request() });
      await s.updateJob("rq-ok", { status: "succeeded", result });
      assert.equal(await s.requeueJob("rq-ok", ["AUTH", "NOT_FOUND"]), false);
      assert.equal((await s.getJob("rq-ok"))?.status, "succeeded");
      // Under way, with an error noted (not final): not requeued.
      await s.createJob({ id: "rq-busy", request: request() });
      await s.updateJob("rq-busy", { status: "copying", error: errorOf("AUTH", "noted") });
      assert.equal(await s.requeueJob("rq-busy", ["AUTH"]), false);
      assert.equal((await s.getJob("rq-busy"))?.status, "copying");
      // The code follows the latest error.
      await s.createJob({ id: "rq-code", request: request() });
      await s.updateJob("rq-code", { status: "failed", error: errorOf("AUTH", "first") });
      assert.equal(await s.updateJob("rq-code", { error: errorOf("NOT_FOUND", "then") }, ["failed"]), true);
      assert.equal(await s.requeueJob("rq-code", ["AUTH"]), false, "the code is the latest error's");
      assert.equal(await s.requeueJob("rq-code", ["NOT_FOUND"]), true);
      // A re-open clears the error with its code: a later failure without an error has no code.
      await s.createJob({ id: "rq-reopen", request: request() });
      await s.updateJob("rq-reopen", { status: "failed", error: errorOf("AUTH", "503", { retryable: true }) });
      assert.equal(await s.reopenJob("rq-reopen"), true);
      await s.updateJob("rq-reopen", { status: "failed" });
      assert.equal(await s.requeueJob("rq-reopen", ["AUTH"]), false);
    });

    it("guards a destination tag: newer events win, older ones are superseded, leases serialise and renew", async () => {
      const s = await setup();
      const key = "127.0.0.1:5001/app:v1";
      assert.equal(await s.claimTag(key, "job-new", 2000, 10_000), "acquired");
      assert.equal(await s.claimTag(key, "job-old", 1000, 10_000), "busy", "held by another job");
      assert.equal(await s.releaseTag(key, "job-new", 2000, "sha256:new"), true);
      assert.equal(await s.claimTag(key, "job-old", 1000, 10_000), "superseded");
      assert.equal(await s.claimTag(key, "job-newer", 3000, 10_000), "acquired");
      now += 8_000;
      assert.equal(await s.renewTag(key, "job-newer", 10_000), true, "renewed while its PUT runs");
      now += 8_000;
      assert.equal(await s.claimTag(key, "job-newest", 4000, 10_000), "busy", "the renewal kept it");
      now += 20_000; // the lease expires (its holder crashed)
      assert.equal(await s.renewTag(key, "job-newer", 10_000), false, "a lapsed lease cannot be renewed");
      assert.equal(await s.claimTag(key, "job-newest", 4000, 10_000), "acquired");
      assert.equal(await s.releaseTag(key, "job-newer", 3000, "sha256:stale"), false, "the old holder's release is refused");
      assert.equal(await s.releaseTag(key, "job-newest", 4000, "sha256:newest"), true);
      assert.equal(await s.claimTag(key, "job-newer", 3000, 10_000), "superseded");
      const rec = await s.getTag(key);
      assert.equal(rec?.digest, "sha256:newest");
      assert.equal(rec?.eventTime, 4000);
      assert.equal(rec?.leaseOwner, undefined);
    });

    it("keeps an upload record per key until dropped or expired; saving again replaces it", async () => {
      const s = await setup();
      const rec = {
        digest: `sha256:${"a".repeat(64)}`,
        size: 64 << 20,
        location: "http://r.example/v2/app/blobs/uploads/u1?_state=x",
        offset: 8 << 20,
        hashState: "AAEC",
      };
      assert.equal(await s.getUpload("job-u/t0/d"), undefined);
      await s.saveUpload("job-u/t0/d", rec);
      assert.deepEqual(await s.getUpload("job-u/t0/d"), rec);
      assert.equal(await s.getUpload("job-u/t1/d"), undefined, "per key");
      await s.saveUpload("job-u/t0/d", { ...rec, offset: 16 << 20, hashState: "AwQF" });
      assert.deepEqual(await s.getUpload("job-u/t0/d"), { ...rec, offset: 16 << 20, hashState: "AwQF" });
      await s.dropUpload("job-u/t0/d");
      assert.equal(await s.getUpload("job-u/t0/d"), undefined);
      await s.dropUpload("job-u/t0/d"); // dropping none is fine
      await s.saveUpload("job-u/t2/d", rec);
      now += 3 * 86_400_000; // past UPLOAD_RECORD_TTL_DAYS: the session is likely gone too
      assert.equal(await s.getUpload("job-u/t2/d"), undefined, "expired");
    });
  });
}
