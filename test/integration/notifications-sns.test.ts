/**
 * Notifications by SNS through a real `ferry serve` (child process, real distribution registry):
 * a failed job is published to the configured topic with the same JSON body a URL gets, a
 * Subject, and `status`/`code` message attributes; a succeeded one is not (the default
 * `on: [failed]`). Run from the TypeScript source and from the CLI bundle, which maps the SDK
 * to its CommonJS build (the SDK is loaded on first publish, and that import differs there).
 *
 * SNS itself is a stand-in here, a mock of AWS: no installable SNS exists. It is an HTTP server on
 * 127.0.0.1, the entry's `endpoint`, that speaks just enough of the Publish action in the query
 * protocol the SDK uses (form-encoded request, XML answer) to capture the request, and checks
 * its SigV4 signature (service `sns`, the topic's region) with the test's own verifier for the
 * credentials given to ferry serve in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { RegistryClient } from "../../lib/registry/client.ts";
import { type Distribution, freePort, startDistribution } from "../helpers/distribution.ts";
import { pushImage, randomIndex } from "../helpers/images.ts";
import { api, eventually, waitForJob, writeConfig } from "../helpers/pipeline.ts";
import { spawnServe, stopServe } from "../helpers/serve-process.ts";
import { type Verdict, verifySigV4 } from "../helpers/sigv4-verify.ts";

const BIN = fileURLToPath(new URL("../../bin/ferry.js", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const run = promisify(execFile);
const TOPIC = "arn:aws:sns:eu-west-1:123456789012:ferry-failures";
const CREDS = { accessKeyId: "AKIAFERRYSNSTEST", secretAccessKey: "sns/test+secret/0123456789", sessionToken: "IQoJb3JpZ2luX2VjEJ//sns-session" };
let reg: Distribution;
let sns: Server;
let serve: ChildProcess | undefined;
let dir: string;
let bundleDir = "";
const published: Array<{ params: URLSearchParams; verdict: Verdict; contentType: string }> = [];

/** The Publish action of SNS's query protocol, as far as a test needs it. */
function startSnsStandIn(): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const verdict = verifySigV4(
        { method: String(req.method), target: String(req.url), headers: req.headers, body },
        { ...CREDS, region: "eu-west-1", service: "sns" },
      );
      const params = new URLSearchParams(body.toString("utf8"));
      published.push({ params, verdict, contentType: String(req.headers["content-type"]) });
      if (!verdict.ok || params.get("Action") !== "Publish") {
        res
          .writeHead(403, { "content-type": "text/xml" })
          .end("<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>");
        return;
      }
      res
        .writeHead(200, { "content-type": "text/xml" })
        .end(
          `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${randomUUID()}</MessageId></PublishResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishResponse>`,
        );
    });
  });
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r(server)));
}

/** Builds the CLI bundle (scripts/build.mjs) under dist/, which git and biome ignore; node_modules still resolve from there. */
async function buildBundle(): Promise<string> {
  await mkdir(join(ROOT, "dist"), { recursive: true });
  const out = await mkdtemp(join(ROOT, "dist", ".test-sns-"));
  await run(process.execPath, [join(ROOT, "scripts/build.mjs"), out], { cwd: ROOT });
  return out;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-notify-sns-"));
  [reg, sns, bundleDir] = await Promise.all([startDistribution(), startSnsStandIn(), buildBundle()]);
});
after(async () => {
  await stopServe(serve);
  await new Promise<void>((r) => sns?.close(() => r()));
  await reg?.stop();
  await rm(dir, { recursive: true, force: true });
  if (bundleDir) await rm(bundleDir, { recursive: true, force: true });
});

/** Starts `ferry serve` from `entry` with an SNS notification entry pointing at the stand-in; returns its URL. */
async function startServe(entry: string): Promise<string> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = await writeConfig(
    join(dir, `ferry-${port}.yml`),
    `version: 1
api: { token: test-token, allow: [{ source: "127.0.0.1:*/**", destinations: ["127.0.0.1:*/**"] }] }
notifications:
  - { sns: "${TOPIC}", endpoint: "http://127.0.0.1:${(sns.address() as AddressInfo).port}", statusBase: "${url}" }
`,
  );
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("AWS_")));
  serve = await spawnServe(entry, config, port, {
    args: ["--in-memory"],
    timeoutMs: 60_000,
    env: {
      ...env,
      AWS_ACCESS_KEY_ID: CREDS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey,
      AWS_SESSION_TOKEN: CREDS.sessionToken,
      AWS_CONFIG_FILE: join(dir, "no-config"),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, "no-credentials"),
      AWS_EC2_METADATA_DISABLED: "true",
    },
  });
  return url;
}

for (const [how, entry, to] of [
  ["the TypeScript source", () => BIN, "copy-a"],
  ["the CLI bundle (npm run build)", () => join(bundleDir, "ferry.mjs"), "copy-b"],
] as const) {
  it(`${how}: a failed job is published to the topic, signed, with its body, Subject and status/code attributes; a success is not`, {
    timeout: 90_000,
  }, async () => {
    await stopServe(serve);
    published.length = 0;
    const base = await startServe(entry());
    const image = randomIndex({ platforms: 1, layers: 1, layerSize: 128, seed: "notify-sns" });
    const c = new RegistryClient({ host: reg.host });
    await pushImage(c, "app", "v1", image);
    await c.close();
    const ok = await api(base, "POST", "/replications", { source: `${reg.host}/app:v1`, destinations: [`${reg.host}/${to}/app`] });
    assert.equal((await waitForJob(base, String(ok.body.id))).status, "succeeded");
    const bad = await api(base, "POST", "/replications", { source: `${reg.host}/app:missing`, destinations: [`${reg.host}/${to}/app`] });
    const badId = String(bad.body.id);
    assert.equal((await waitForJob(base, badId)).status, "failed");
    await eventually(async () => (published.length >= 1 ? true : undefined), 20_000, "a Publish");

    assert.equal(published.length, 1, "one publish: the failure only");
    const [p] = published;
    assert.ok(p);
    assert.deepEqual(p.verdict, { ok: true }, "signed for sns in the topic's region with the process's credentials");
    assert.match(p.contentType, /^application\/x-www-form-urlencoded/);
    assert.equal(p.params.get("TopicArn"), TOPIC);
    const message = JSON.parse(String(p.params.get("Message"))) as Record<string, unknown>;
    assert.equal(message.event, "job.failed");
    assert.equal(message.job, badId);
    assert.equal(message.status, "failed");
    assert.equal(message.source, `${reg.host}/app:missing`);
    assert.deepEqual(message.destinations, [`${reg.host}/${to}/app`]);
    assert.deepEqual(message.error, { ...(message.error as object), code: "NOT_FOUND", side: "source" });
    assert.equal(message.statusUrl, `${base}/replications/${badId}`);
    assert.match(String(p.params.get("Subject")), new RegExp(`^ferry: job ${badId} failed \\[NOT_FOUND\\]`));
    const attributes = new Map<string, [string | null, string | null]>();
    for (let i = 1; p.params.has(`MessageAttributes.entry.${i}.Name`); i++) {
      const at = `MessageAttributes.entry.${i}`;
      attributes.set(String(p.params.get(`${at}.Name`)), [p.params.get(`${at}.Value.DataType`), p.params.get(`${at}.Value.StringValue`)]);
    }
    assert.deepEqual(Object.fromEntries(attributes), { status: ["String", "failed"], code: ["String", "NOT_FOUND"] });
  });
}
