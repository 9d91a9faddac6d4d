/**
 * A large layer through `ferry serve` whose copy invocations are too short for it (a test
 * setting: `copyTimeout: 25`, so each delivery moves about 5 s of bytes) and whose source is
 * throttled: it completes over several deliveries, each resuming where the last stopped.
 * FERRY_RESUME_TEST_BYTES sets the layer size (default 96 MiB; the closing note's 2 GiB run sets it).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import type { LocalServer } from "../../lib/local/serve.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { type Distribution, startDistribution } from "../helpers/distribution.ts";
import { pushImage, randomImage } from "../helpers/images.ts";
import { api, startFerry, waitForJob, writeConfig } from "../helpers/pipeline.ts";
import { startThrottleProxy, type ThrottleProxy } from "../helpers/throttle-proxy.ts";

const SIZE = Number(process.env.FERRY_RESUME_TEST_BYTES ?? 96 * 1024 * 1024);
const RATE = Number(process.env.FERRY_RESUME_TEST_RATE ?? 8 * 1024 * 1024);
let src: Distribution;
let dst: Distribution;
let proxy: ThrottleProxy;
let ferry: LocalServer;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-resume-"));
  [src, dst] = await Promise.all([startDistribution(), startDistribution()]);
  proxy = await startThrottleProxy(src.host, RATE);
  const config = await writeConfig(
    join(dir, "ferry.yml"),
    `version: 1
api: { token: test-token, allow: [{ source: "127.0.0.1:*/**", destinations: ["127.0.0.1:*/**"] }] }
pipeline: { copyTimeout: 25, resumeAboveBytes: 16777216, visibilityTimeout: 30, maxReceiveCount: 3 }
`,
  );
  ferry = await startFerry(config, { dataDir: join(dir, "state") });
});
after(async () => {
  await ferry?.stop();
  await proxy?.stop();
  await Promise.all([src?.stop(), dst?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

it("a layer longer than an invocation completes over several deliveries, reading the source about once", { timeout: 600_000 }, async (t) => {
  const image = randomImage({ layers: 1, layerSize: SIZE, seed: `resume-${SIZE}` });
  const c = new RegistryClient({ host: src.host });
  await pushImage(c, "big/app", "v1", image);
  await c.close();
  const rssBefore = process.memoryUsage().rss;
  let peak = rssBefore;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 200);
  const started = Date.now();
  const posted = await api(ferry.url, "POST", "/replications", { source: `${proxy.host}/big/app:v1`, destinations: [`${dst.host}/big/app`] });
  assert.equal(posted.status, 202, JSON.stringify(posted.body));
  const job = await waitForJob(ferry.url, String(posted.body.id), undefined, 540_000);
  clearInterval(sampler);
  assert.equal(job.status, "succeeded", JSON.stringify(job.error));
  const d = new RegistryClient({ host: dst.host });
  assert.equal((await d.manifestHead("big/app", "v1"))?.digest, image.digest);
  const layer = image.blobs.find((b) => b.size === SIZE);
  assert.ok(layer && (await d.blobHead("big/app", layer.digest)) === SIZE);
  await d.close();
  const read = proxy.blobBytes();
  const seconds = (Date.now() - started) / 1000;
  t.diagnostic(
    `${SIZE} bytes in ${seconds.toFixed(1)} s at ${RATE} B/s through copy invocations of 25 s (about 5 s of transfer each): source bytes read ${read} (${(read / SIZE).toFixed(3)}×), peak RSS ${Math.round(peak / 1024 / 1024)} MB (from ${Math.round(rssBefore / 1024 / 1024)} MB)`,
  );
  assert.ok(seconds > 10, "it had to span deliveries");
  assert.ok(read <= SIZE * 1.1, `read ${read} bytes for a ${SIZE}-byte layer`);
});
