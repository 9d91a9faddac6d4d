/**
 * `ferry jobs --aws` through a stand-in for API Gateway's IAM authorizer: an HTTP server on
 * 127.0.0.1 that verifies each request's SigV4 signature with test/helpers/sigv4-verify.ts
 * (node:crypto, from the published algorithm; no AWS code) for fixed test credentials, answers
 * 403 as API Gateway does when it does not verify, and otherwise passes the request to a real
 * `ferry serve` (this process, real distribution registries) as the Lambda integration would.
 * The CLI runs as a child process with the credentials in AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN and no other credential source.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { LocalServer } from "../../lib/local/serve.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { type BlackHole, startBlackHole } from "../helpers/black-hole.ts";
import { type Distribution, freePort, startDistribution } from "../helpers/distribution.ts";
import { pushImage, randomIndex } from "../helpers/images.ts";
import { api, startFerry, writeConfig } from "../helpers/pipeline.ts";
import { verifySigV4 } from "../helpers/sigv4-verify.ts";

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../../bin/ferry.js", import.meta.url));
const CREDS = { accessKeyId: "AKIAFERRYJOBSTEST", secretAccessKey: "jobs/cli+secret/0123456789", sessionToken: "IQoJb3JpZ2luX2VjEJ//ferry-session" };
const REGION = "eu-west-2";
let src: Distribution;
let dst: Distribution;
let ferry: LocalServer;
let gateway: HttpServer;
let gatewayUrl: string;
let dir: string;
let blackHole: BlackHole;
const seen = { accepted: 0, refused: [] as string[] };

/** API Gateway with the IAM authorizer, in front of ferry serve. */
function startGateway(): Promise<HttpServer> {
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks);
      const verdict = verifySigV4(
        { method: String(req.method), target: String(req.url), headers: req.headers, body },
        { ...CREDS, region: REGION, service: "execute-api" },
      );
      if (!verdict.ok) {
        seen.refused.push(verdict.reason);
        res.writeHead(403, { "content-type": "application/json" }).end(JSON.stringify({ message: "Forbidden" }));
        return;
      }
      seen.accepted++;
      const upstream = await fetch(`${ferry.url}${req.url}`, {
        method: req.method,
        headers: { authorization: "Bearer test-token", ...(req.headers["content-type"] ? { "content-type": req.headers["content-type"] } : {}) },
        ...(body.length ? { body } : {}),
      });
      res.writeHead(upstream.status, { "content-type": "application/json" }).end(Buffer.from(await upstream.arrayBuffer()));
    });
  });
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r(server)));
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-jobs-sigv4-"));
  [src, dst] = await Promise.all([startDistribution(), startDistribution()]);
  blackHole = await startBlackHole(); // accepts, never answers
  const config = await writeConfig(
    join(dir, "ferry.yml"),
    "version: 1\napi: { token: test-token, allow: [{ source: '127.0.0.1:*/**', destinations: ['127.0.0.1:*/**'] }] }\n",
  );
  ferry = await startFerry(config, { port: await freePort(), dataDir: false });
  gateway = await startGateway();
  gatewayUrl = `http://127.0.0.1:${(gateway.address() as { port: number }).port}`;
});
after(async () => {
  await new Promise<void>((r) => gateway?.close(() => r()));
  await ferry?.stop();
  await blackHole?.stop();
  await Promise.all([src?.stop(), dst?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

/** The environment with no AWS credential source but the ones given (no profile files, no instance metadata). */
function awsEnv(creds: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("AWS_")));
  return {
    ...env,
    AWS_CONFIG_FILE: join(dir, "no-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, "no-credentials"),
    AWS_EC2_METADATA_DISABLED: "true",
    ...creds,
  };
}
const signedEnv = () => awsEnv({ AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey, AWS_SESSION_TOKEN: CREDS.sessionToken });
const jobs = (args: string[], env = signedEnv()) => run(process.execPath, [BIN, "jobs", ...args, "--server", gatewayUrl, "--aws", "--region", REGION], { env });
/** Exit status and stdout, whether it succeeded or not. */
const outcome = async (p: Promise<{ stdout: string }>) =>
  p.then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (e: { code?: number; stdout?: string }) => ({ code: e.code, stdout: e.stdout ?? "" }),
  );
const errorCode = (stdout: string) => (JSON.parse(stdout) as { error?: { code?: string } }).error?.code;

it("list, show, watch, redrive and fail, each request signed and verified", { timeout: 120_000 }, async () => {
  const image = randomIndex({ platforms: 2, seed: "jobs-sigv4" });
  await pushImage(new RegistryClient({ host: src.host }), "sig/app", "v1", image);
  const ok = String((await api(ferry.url, "POST", "/replications", { source: `${src.host}/sig/app:v1`, destinations: [`${dst.host}/sig/app`] })).body.id);
  assert.match((await jobs(["watch", ok])).stdout, /succeeded/);
  const listed = JSON.parse((await jobs(["list", "--json", "--limit", "10"])).stdout) as Array<{ id: string; status: string }>;
  assert.equal(listed.find((j) => j.id === ok)?.status, "succeeded");
  const shown = JSON.parse((await jobs(["show", ok, "--json"])).stdout) as { result: { digest: string } };
  assert.equal(shown.result.digest, image.digest);

  const hole = blackHole.host;
  const stuck = String((await api(ferry.url, "POST", "/replications", { source: `${hole}/x/app:v1`, destinations: [`${dst.host}/x/app`] })).body.id);
  const redriven = JSON.parse((await jobs(["redrive", stuck, "--json"])).stdout) as { id: string; status: string };
  assert.equal(redriven.id, stuck);
  assert.ok(["queued", "planning"].includes(redriven.status), `re-driven, still ${redriven.status}`);
  const failed = JSON.parse((await jobs(["fail", stuck, "--reason", "the source never answers", "--json"])).stdout) as {
    status: string;
    error: { code: string };
  };
  assert.deepEqual([failed.status, failed.error.code], ["failed", "CANCELLED"]);
  assert.equal((await outcome(jobs(["watch", stuck]))).code, 1, "watch exits 1 for a failed job");
  const conflict = await outcome(jobs(["redrive", ok, "--json"]));
  assert.deepEqual([conflict.code, errorCode(conflict.stdout)], [1, "CONFLICT"], "the API's 409 through the gateway");

  assert.deepEqual(seen.refused, [], "every signed request verified");
  assert.ok(seen.accepted >= 7, `${seen.accepted} requests verified`);
});

it("a wrong secret: the gateway refuses the signature (403), the CLI says AUTH", async () => {
  const before = { accepted: seen.accepted, refused: seen.refused.length };
  const env = awsEnv({ AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: "not-the-secret", AWS_SESSION_TOKEN: CREDS.sessionToken });
  const r = await outcome(jobs(["list", "--json"], env));
  assert.deepEqual([r.code, errorCode(r.stdout)], [1, "AUTH"]);
  assert.deepEqual(seen.refused.slice(before.refused), ["signature does not match"]);
  assert.equal(seen.accepted, before.accepted, "nothing reached ferry serve");
});

it("no credentials anywhere: CREDENTIALS, and no request is sent", async () => {
  const before = { accepted: seen.accepted, refused: seen.refused.length };
  const r = await outcome(jobs(["list", "--json"], awsEnv({})));
  assert.deepEqual([r.code, errorCode(r.stdout)], [1, "CREDENTIALS"]);
  assert.deepEqual([seen.accepted, seen.refused.length], [before.accepted, before.refused]);
});

it("--aws without a region is a usage error (exit 2)", async () => {
  const r = await outcome(run(process.execPath, [BIN, "jobs", "list", "--server", gatewayUrl, "--aws"], { env: signedEnv() }));
  assert.equal(r.code, 2);
});
