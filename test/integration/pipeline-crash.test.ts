/**
 * `ferry serve` (a real process) killed with SIGKILL:
 * - a copy worker that dies mid-blob, started again on the same queues and table (stand-ins run
 *   by this test): SQS redelivers the copy message after its visibility timeout; the job succeeds;
 * - on its own durable defaults (embedded SQS in memory, DynamoDB in the data directory): 20
 *   accepted replications, killed half a second after the last 202, restarted on the same data
 *   directory: every job is known and every one is replicated.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, it } from "node:test";
import type { AddressInfo } from "node:net";
import { RegistryClient } from "../../lib/registry/client.ts";
import { type Distribution, freePort, startDistribution } from "../helpers/distribution.ts";
import { type DynamoStandIn, startDynalite } from "../helpers/dynamo.ts";
import { pushImage, randomIndex } from "../helpers/images.ts";
import { api, eventually, waitForJob, writeConfig } from "../helpers/pipeline.ts";
import { skopeoInspectRaw } from "../helpers/skopeo.ts";
import { startThrottleProxy, type ThrottleProxy } from "../helpers/throttle-proxy.ts";
import { spawnServe, stopServe } from "../helpers/serve-process.ts";

const BIN = fileURLToPath(new URL("../../bin/ferry.js", import.meta.url));
let src: Distribution;
let dst: Distribution;
let ddb: DynamoStandIn;
let sqs: { close(): Promise<unknown>; server: import("node:http").Server };
let proxy: ThrottleProxy;
let dir: string;
const procs: ChildProcess[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-crash-"));
  [src, dst, ddb] = await Promise.all([startDistribution(), startDistribution(), startDynalite()]);
  const { buildApp } = await import("fauxqs");
  const app = buildApp({ logger: false, host: "127.0.0.1" });
  await app.listen({ port: 0, host: "127.0.0.1" });
  sqs = app as unknown as typeof sqs;
  proxy = await startThrottleProxy(src.host, 4 * 1024 * 1024); // 4 MiB/s: a 12 MB layer takes 3 s
});
after(async () => {
  for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
  await proxy?.stop();
  await sqs?.close();
  await Promise.all([src?.stop(), dst?.stop(), ddb?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

async function startServe(config: string, port: number): Promise<ChildProcess> {
  const env = {
    ...process.env,
    FERRY_SQS_ENDPOINT: `http://127.0.0.1:${(sqs.server.address() as AddressInfo).port}`,
    FERRY_DYNAMODB_ENDPOINT: ddb.endpoint,
  };
  const child = await spawnServe(BIN, config, port, { env });
  procs.push(child);
  return child;
}

it("a copy worker killed mid-blob is redelivered and the job still succeeds", { timeout: 120_000 }, async () => {
  const image = randomIndex({ platforms: 1, layers: 1, layerSize: 12_000_000, seed: "crash" });
  await pushImage(new RegistryClient({ host: src.host }), "big/app", "v1", image);
  const port = await freePort();
  const config = await writeConfig(
    join(dir, "ferry.yml"),
    `version: 1\napi: { token: test-token, allow: [{ source: "127.0.0.1:*/**", destinations: ["127.0.0.1:*/**"] }] }\npipeline: { visibilityTimeout: 3, maxReceiveCount: 5 }\n`,
  );
  const base = `http://127.0.0.1:${port}`;
  const first = await startServe(config, port);
  const r = await api(base, "POST", "/replications", { source: `${proxy.host}/big/app:v1`, destinations: [`${dst.host}/big/app`] });
  assert.equal(r.status, 202);
  // Wait until the layer is partly through, then kill the worker process outright.
  await eventually(async () => (proxy.blobBytes() > 2_000_000 ? true : undefined), 30_000, "layer half transferred");
  first.kill("SIGKILL");
  await new Promise((r) => first.once("exit", r));
  assert.ok(proxy.blobBytes() < 12_000_000, "killed before the layer was through");
  assert.equal(await new RegistryClient({ host: dst.host }).manifestHead("big/app", "v1"), undefined, "no tag after the crash");

  const second = await startServe(config, port); // a fresh "Lambda" on the same queues and table
  const job = await waitForJob(base, String(r.body.id), undefined, 60_000);
  assert.equal(job.status, "succeeded", JSON.stringify(job));
  assert.deepEqual(await skopeoInspectRaw(`${dst.host}/big/app:v1`), image.bytes);
  // and `ferry serve` stops cleanly on SIGTERM
  assert.equal(await stopServe(second), 0);
});

it("kill -9 half a second after 20 accepted replications: after a restart on the same data dir, all 20 are known and replicated", {
  timeout: 240_000,
}, async () => {
  const images = Array.from({ length: 20 }, (_, i) => randomIndex({ platforms: 2, layers: 1, layerSize: 300_000, seed: `durable-${i}` }));
  const srcClient = new RegistryClient({ host: src.host });
  for (const [i, image] of images.entries()) await pushImage(srcClient, `durable/app${i}`, "v1", image);
  await srcClient.close();
  const port = await freePort();
  const config = await writeConfig(
    join(dir, "durable.yml"),
    `version: 1\napi: { token: test-token, allow: [{ source: "127.0.0.1:*/**", destinations: ["127.0.0.1:*/**"] }] }\npipeline: { copyConcurrency: 2 }\n`,
  );
  const dataDir = join(dir, "durable-state");
  const base = `http://127.0.0.1:${port}`;
  // the embedded stand-ins: no FERRY_* endpoints in the environment
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("FERRY_")));
  const first = await spawnServe(BIN, config, port, { env, args: ["--data-dir", dataDir] });
  procs.push(first);
  const ids: string[] = [];
  for (const [i] of images.entries()) {
    // through the throttled proxy, so most are still under way at the kill
    const r = await api(base, "POST", "/replications", { source: `${proxy.host}/durable/app${i}:v1`, destinations: [`${dst.host}/durable/app${i}`] });
    assert.equal(r.status, 202);
    ids.push(String(r.body.id));
  }
  await new Promise((r) => setTimeout(r, 500));
  first.kill("SIGKILL");
  await new Promise((r) => first.once("exit", r));
  const dstClient = new RegistryClient({ host: dst.host });
  const before = (await Promise.all(images.map((_, i) => dstClient.manifestHead(`durable/app${i}`, "v1")))).filter((h) => h).length;

  const second = await spawnServe(BIN, config, port, { env, args: ["--data-dir", dataDir] });
  procs.push(second);
  const jobs = await Promise.all(ids.map((id) => waitForJob(base, id, undefined, 180_000)));
  assert.deepEqual(
    jobs.map((j) => j.status),
    ids.map(() => "succeeded"),
    JSON.stringify(jobs.filter((j) => j.status !== "succeeded")),
  );
  for (const [i, image] of images.entries()) assert.equal((await dstClient.manifestHead(`durable/app${i}`, "v1"))?.digest, image.digest, `app${i}`);
  await dstClient.close();
  assert.ok(before < images.length, `the kill came while work was under way (${before} of ${images.length} done before it)`);
  assert.equal(await stopServe(second), 0);
});
