/**
 * "Accepted means replicated", through the local runtime of `ferry serve` (durable data dir,
 * the same handlers as on AWS) and real distribution registries behind loopback proxies:
 * last deliveries record their reason on the job before the DLQ, a DLQ redrive and an operator's
 * redrive finish such jobs, many jobs on one tag all end with the newest digest on it, and a tag
 * PUT that outlasts its lease cannot let an older job overwrite a newer one. Assertions are on
 * error codes, never on message text.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import type { LocalServer } from "../../lib/local/serve.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { type Distribution, freePort, startDistribution } from "../helpers/distribution.ts";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.ts";
import { type HoldProxy, startHoldProxy } from "../helpers/hold-proxy.ts";
import { pushImage, randomIndex } from "../helpers/images.ts";
import { api, eventually, startFerry, waitForJob, writeConfig } from "../helpers/pipeline.ts";

let src: Distribution;
let dst: Distribution;
let srcFaults: FaultProxy;
let dstFaults: FaultProxy;
let hold: HoldProxy;
let ferry: LocalServer;
let dir: string;
let srcClient: RegistryClient;
let dstClient: RegistryClient;

const isManifest = (_m: string, path: string) => path.includes("/manifests/");
const isTagPut = (m: string, path: string) => m === "PUT" && /\/manifests\/(?!sha256:)/.test(path);
type ErrorView = { code?: string; side?: string; status?: number; retryable?: boolean };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-recovery-"));
  [src, dst] = await Promise.all([startDistribution(), startDistribution()]);
  [srcFaults, dstFaults] = await Promise.all([
    startFaultProxy(src.host, { eligible: isManifest, afterShare: 0 }),
    startFaultProxy(dst.host, { eligible: isTagPut, afterShare: 0 }),
  ]);
  // The first tag PUT of lease/app reaches the registry 4 s late: longer than the 1 s tag lease.
  let first = true;
  hold = await startHoldProxy(dst.host, 4000, (m, p) => {
    if (!(m === "PUT" && p === "/v2/lease/app/manifests/latest" && first)) return false;
    first = false;
    return true;
  });
  const config = await writeConfig(
    join(dir, "ferry.yml"),
    `version: 1
api: { token: test-token, allow: [{ source: "127.0.0.1:*/**", destinations: ["127.0.0.1:*/**"] }] }
pipeline: { visibilityTimeout: 1, maxReceiveCount: 2, tagLease: 1, tagWait: 120, reconcileEvery: 1, stuckAfter: 8, maxRedrives: 3 }
`,
  );
  ferry = await startFerry(config, { port: await freePort(), dataDir: join(dir, "state") });
  srcClient = new RegistryClient({ host: src.host });
  dstClient = new RegistryClient({ host: dst.host });
});
after(async () => {
  await ferry?.stop();
  await Promise.all([srcClient?.close(), dstClient?.close()]);
  await Promise.all([srcFaults?.stop(), dstFaults?.stop(), hold?.stop()]);
  await Promise.all([src?.stop(), dst?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

const submit = async (source: string, destination: string) => {
  const r = await api(ferry.url, "POST", "/replications", { source, destinations: [destination] });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return String(r.body.id);
};

/** What SQS's redrive (StartMessageMoveTask) does: the DLQ's messages go back to the queue, with new ids. */
async function redriveDlq(queue: "plan" | "copy" | "merge"): Promise<number> {
  const sqs = ferry.backends.sqs;
  const dlq = ferry.backends.deadLetterQueues[queue] ?? "";
  let moved = 0;
  for (;;) {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    if (!out.Messages?.length) return moved;
    for (const m of out.Messages) {
      await sqs.send(new SendMessageCommand({ QueueUrl: ferry.backends.queues[queue], MessageBody: m.Body ?? "" }));
      await sqs.send(new DeleteMessageCommand({ QueueUrl: dlq, ReceiptHandle: m.ReceiptHandle }));
      moved++;
    }
  }
}

/** Resolves once `queue` has nothing waiting, in flight or delayed. */
async function drained(queue: "plan" | "copy" | "merge"): Promise<void> {
  await eventually(
    async () => {
      const out = await ferry.backends.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: ferry.backends.queues[queue],
          AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"],
        }),
      );
      return Object.values(out.Attributes ?? {}).every((v) => v === "0") ? true : undefined;
    },
    60_000,
    `the ${queue} queue drained`,
  );
}

describe("last deliveries and redrives", () => {
  it("a plan whose source keeps answering 503 fails on its last delivery with the code; an operator's redrive finishes it", { timeout: 180_000 }, async () => {
    const image = randomIndex({ platforms: 2, seed: "rec-plan" });
    await pushImage(srcClient, "planfail/app", "v1", image);
    srcFaults.setRates({ "503": 1 });
    const id = await submit(`${srcFaults.host}/planfail/app:v1`, `${dst.host}/planfail/app`);
    const failed = await waitForJob(ferry.url, id, undefined, 120_000);
    srcFaults.setRates({});
    assert.equal(failed.status, "failed", JSON.stringify(failed));
    const e = failed.error as ErrorView;
    assert.deepEqual([e.code, e.status, e.side, e.retryable], ["REGISTRY", 503, "source", true]);
    const r = await api(ferry.url, "POST", `/replications/${id}/redrive`);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const done = await waitForJob(ferry.url, id, (j) => j.status === "succeeded", 60_000);
    assert.equal((done.result as { digest: string }).digest, image.digest);
    assert.equal((await dstClient.manifestHead("planfail/app", "v1"))?.digest, image.digest);
    // nothing left to re-drive once it succeeded
    assert.equal((await api(ferry.url, "POST", `/replications/${id}/redrive`)).status, 409);
  });

  it("a merge whose destination keeps answering 503 fails with the reason and no tag; a DLQ redrive finishes it", { timeout: 180_000 }, async () => {
    const image = randomIndex({ platforms: 2, seed: "rec-merge" });
    await pushImage(srcClient, "mergefail/app", "v1", image);
    dstFaults.setRates({ "503": 1 });
    const id = await submit(`${src.host}/mergefail/app:v1`, `${dstFaults.host}/mergefail/app`);
    const failed = await waitForJob(ferry.url, id, undefined, 120_000);
    dstFaults.setRates({});
    assert.equal(failed.status, "failed", JSON.stringify(failed));
    const e = failed.error as ErrorView;
    assert.deepEqual([e.code, e.status, e.side, e.retryable], ["REGISTRY", 503, "destination", true]);
    assert.equal(await dstClient.manifestHead("mergefail/app", "v1"), undefined, "no tag moved");
    const moved = await eventually(async () => (await redriveDlq("merge")) || undefined, 30_000, "the merge message in the DLQ");
    assert.ok(moved >= 1);
    const done = await waitForJob(ferry.url, id, (j) => j.status === "succeeded", 60_000);
    assert.equal((done.result as { digest: string }).digest, image.digest);
    assert.equal((await dstClient.manifestHead("mergefail/app", "v1"))?.digest, image.digest);
  });

  it("an operator can fail a job that is not final (CANCELLED), and nothing else", async () => {
    const image = randomIndex({ platforms: 1, seed: "rec-cancel" });
    await pushImage(srcClient, "cancel/app", "v1", image);
    srcFaults.setRates({ "503": 1 }); // keeps it planning
    const id = await submit(`${srcFaults.host}/cancel/app:v1`, `${dst.host}/cancel/app`);
    const r = await api(ferry.url, "POST", `/replications/${id}/fail`, { reason: "wrong source" });
    srcFaults.setRates({});
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const job = (await api(ferry.url, "GET", `/replications/${id}`)).body;
    assert.equal(job.status, "failed");
    assert.equal((job.error as ErrorView).code, "CANCELLED");
    assert.equal((await api(ferry.url, "POST", `/replications/${id}/fail`, { reason: "again" })).status, 409);
    assert.equal((await api(ferry.url, "POST", "/replications/nope/fail", { reason: "x" })).status, 404);
    assert.equal((await api(ferry.url, "POST", `/replications/${id}/fail`, { reason: "" })).status, 400);
    // Its plan message, still in the queue (or moved back from the DLQ by a bulk redrive), must
    // not bring it back now that the source answers: an operator's fail is final.
    await drained("plan");
    await redriveDlq("plan");
    // What a bulk DLQ redrive of an earlier delivery would bring back.
    await ferry.backends.sqs.send(
      new SendMessageCommand({ QueueUrl: ferry.backends.queues.plan, MessageBody: JSON.stringify({ v: 1, kind: "plan", jobId: id }) }),
    );
    await drained("plan");
    const after = (await api(ferry.url, "GET", `/replications/${id}`)).body;
    assert.deepEqual([after.status, (after.error as ErrorView).code], ["failed", "CANCELLED"], JSON.stringify(after));
    assert.equal(await dstClient.manifestHead("cancel/app", "v1"), undefined, "nothing replicated");
    // Only the operator's own redrive of this job re-opens it.
    assert.equal((await api(ferry.url, "POST", `/replications/${id}/redrive`)).status, 202);
    assert.equal((await waitForJob(ferry.url, id, undefined, 60_000)).status, "succeeded");
  });
});

describe("contended tags", () => {
  it("10 jobs for one destination tag at once all end, and the tag holds the newest event's digest", { timeout: 180_000 }, async () => {
    const images = Array.from({ length: 10 }, (_, i) => randomIndex({ platforms: 2, seed: `contended-${i}` }));
    for (const [i, image] of images.entries()) await pushImage(srcClient, `contended/src${i}`, "v1", image);
    const ids: string[] = [];
    for (const [i] of images.entries()) {
      ids.push(await submit(`${src.host}/contended/src${i}:v1`, `${dst.host}/contended/app:latest`));
      await new Promise((r) => setTimeout(r, 2)); // distinct event times, in submission order
    }
    const jobs = await Promise.all(ids.map((id) => waitForJob(ferry.url, id, undefined, 150_000)));
    assert.deepEqual(
      jobs.map((j) => j.status),
      ids.map(() => "succeeded"),
      JSON.stringify(jobs.filter((j) => j.status !== "succeeded")),
    );
    assert.equal((await dstClient.manifestHead("contended/app", "latest"))?.digest, images.at(-1)?.digest, "the newest event's digest");
  });

  it("a tag PUT that outlasts its lease keeps the lease: a newer job waits, and the tag ends at the newer digest", { timeout: 120_000 }, async () => {
    const older = randomIndex({ platforms: 1, seed: "lease-older" });
    const newer = randomIndex({ platforms: 1, seed: "lease-newer" });
    await pushImage(srcClient, "lease/older", "v1", older);
    await pushImage(srcClient, "lease/newer", "v1", newer);
    const a = await submit(`${src.host}/lease/older:v1`, `${hold.host}/lease/app:latest`);
    await eventually(async () => (hold.held() > 0 ? true : undefined), 30_000, "the older job's tag PUT is held");
    const b = await submit(`${src.host}/lease/newer:v1`, `${hold.host}/lease/app:latest`);
    const [ja, jb] = await Promise.all([waitForJob(ferry.url, a, undefined, 60_000), waitForJob(ferry.url, b, undefined, 60_000)]);
    assert.equal(ja.status, "succeeded", JSON.stringify(ja));
    assert.equal(jb.status, "succeeded", JSON.stringify(jb));
    assert.equal((await dstClient.manifestHead("lease/app", "latest"))?.digest, newer.digest, "the older job's late PUT did not win");
  });
});
