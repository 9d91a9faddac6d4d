/**
 * Notifications through `ferry serve`: a job's end is POSTed to the configured URL as JSON with
 * the job, source, destinations, digest, error code and status URL, a Slack-compatible `text`,
 * and an HMAC-SHA256 signature of the exact body; a receiver that answers 500 is retried.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import type { LocalServer } from "../../lib/local/serve.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { type Distribution, freePort, startDistribution } from "../helpers/distribution.ts";
import { pushImage, randomIndex } from "../helpers/images.ts";
import { api, eventually, startFerry, waitForJob, writeConfig } from "../helpers/pipeline.ts";

const SECRET = "n0t1fy";
let reg: Distribution;
let ferry: LocalServer;
let dir: string;
let receiver: Server;
let receiverUrl: string;
/** Deliveries per notification (`job/event`): the receiver answers the first one of each with 500. */
const attempts = new Map<string, number>();
const received: Array<{ body: Record<string, unknown>; raw: Buffer; signature: string }> = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-notify-"));
  reg = await startDistribution();
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const body = JSON.parse(raw.toString("utf8")) as Record<string, unknown>;
      const key = `${body.job}/${body.event}`;
      attempts.set(key, (attempts.get(key) ?? 0) + 1);
      if (attempts.get(key) === 1) {
        res.writeHead(500).end();
        return;
      }
      received.push({ body, raw, signature: String(req.headers["x-ferry-signature"]) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const port = await freePort();
  const config = await writeConfig(
    join(dir, "ferry.yml"),
    `version: 1
api: { token: test-token, allow: [{ source: "127.0.0.1:*/**", destinations: ["127.0.0.1:*/**"] }] }
pipeline: { visibilityTimeout: 2, maxReceiveCount: 2 }
notifications:
  - { url: "${receiverUrl}", on: [failed, succeeded], secret: ${SECRET}, statusBase: "http://127.0.0.1:${port}" }
`,
  );
  ferry = await startFerry(config, { port, dataDir: false });
});
after(async () => {
  await ferry?.stop();
  await new Promise<void>((r) => receiver?.close(() => r()));
  await reg?.stop();
  await rm(dir, { recursive: true, force: true });
});

const signed = (raw: Buffer) => `sha256=${createHmac("sha256", SECRET).update(raw).digest("hex")}`;

it("a succeeded and a failed job are each reported once, signed, with what CI and a chat need; a refusing receiver is retried", {
  timeout: 90_000,
}, async () => {
  const image = randomIndex({ platforms: 1, layers: 1, layerSize: 128, seed: "notify" });
  const c = new RegistryClient({ host: reg.host });
  await pushImage(c, "app", "v1", image);
  await c.close();
  const ok = await api(ferry.url, "POST", "/replications", { source: `${reg.host}/app:v1`, destinations: [`${reg.host}/copy/app`] });
  assert.equal((await waitForJob(ferry.url, String(ok.body.id))).status, "succeeded");
  const bad = await api(ferry.url, "POST", "/replications", { source: `${reg.host}/app:missing`, destinations: [`${reg.host}/copy/app`] });
  assert.equal((await waitForJob(ferry.url, String(bad.body.id))).status, "failed");
  await eventually(async () => (received.length >= 2 ? true : undefined), 20_000, "two notifications");
  const byJob = new Map(received.map((r) => [String(r.body.job), r]));
  const success = byJob.get(String(ok.body.id));
  const failure = byJob.get(String(bad.body.id));
  assert.ok(success && failure, JSON.stringify(received.map((r) => r.body)));
  assert.equal(success.body.event, "job.succeeded");
  assert.equal(success.body.digest, image.digest);
  assert.deepEqual(success.body.destinations, [`${reg.host}/copy/app`]);
  assert.equal(success.body.statusUrl, `${ferry.url}/replications/${ok.body.id}`);
  assert.match(String(success.body.text), /succeeded/);
  assert.equal(failure.body.event, "job.failed");
  assert.deepEqual(failure.body.error, { ...(failure.body.error as object), code: "NOT_FOUND", side: "source" });
  assert.match(String(failure.body.text), /NOT_FOUND/);
  for (const r of [success, failure]) assert.equal(r.signature, signed(r.raw), "HMAC-SHA256 of the exact body");
  assert.equal(received.length, 2, "each end reported once");
  assert.deepEqual(
    Object.fromEntries(attempts),
    { [`${ok.body.id}/job.succeeded`]: 2, [`${bad.body.id}/job.failed`]: 2 },
    "each notification answered 500 once, then retried and delivered",
  );
});
