/**
 * A copy worker that dies mid-blob: `ferry serve` (a real process) is killed with SIGKILL while a
 * layer is half transferred, then started again on the same queues and table (stand-ins run by
 * this test). SQS redelivers the copy message after its visibility timeout; the job succeeds.
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
    `version: 1\napi: { token: test-token }\npipeline: { visibilityTimeout: 3, maxReceiveCount: 5 }\n`,
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
  assert.equal((await new RegistryClient({ host: dst.host }).manifestHead("big/app", "v1")), undefined, "no tag after the crash");

  const second = await startServe(config, port); // a fresh "Lambda" on the same queues and table
  const job = await waitForJob(base, String(r.body.id), undefined, 60_000);
  assert.equal(job.status, "succeeded", JSON.stringify(job));
  assert.deepEqual(await skopeoInspectRaw(`${dst.host}/big/app:v1`), image.bytes);
  // and `ferry serve` stops cleanly on SIGTERM
  assert.equal(await stopServe(second), 0);
});
