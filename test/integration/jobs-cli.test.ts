/**
 * `ferry jobs` against a running `ferry serve` (the local runtime in this process, real
 * distribution registries): watch a job to its end, list and show it, fail a job that cannot
 * move (its source accepts connections and never answers), and the exit codes of refusals.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, it } from "node:test";
import type { LocalServer } from "../../lib/local/serve.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { type BlackHole, startBlackHole } from "../helpers/black-hole.ts";
import { type Distribution, freePort, startDistribution } from "../helpers/distribution.ts";
import { pushImage, randomIndex } from "../helpers/images.ts";
import { api, startFerry, writeConfig } from "../helpers/pipeline.ts";

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../../bin/ferry.js", import.meta.url));
let src: Distribution;
let dst: Distribution;
let ferry: LocalServer;
let dir: string;
let blackHole: BlackHole;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-jobs-cli-"));
  [src, dst] = await Promise.all([startDistribution(), startDistribution()]);
  blackHole = await startBlackHole(); // accepts, never answers
  const config = await writeConfig(
    join(dir, "ferry.yml"),
    "version: 1\napi: { token: test-token, allow: [{ source: '127.0.0.1:*/**', destinations: ['127.0.0.1:*/**'] }] }\n",
  );
  ferry = await startFerry(config, { port: await freePort(), dataDir: false });
});
after(async () => {
  await ferry?.stop();
  await blackHole?.stop();
  await Promise.all([src?.stop(), dst?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

const jobs = (...args: string[]) => run(process.execPath, [BIN, "jobs", ...args, "--server", ferry.url, "--token", "test-token"]);
const exitOf = async (p: Promise<unknown>) =>
  p.then(
    () => 0,
    (e: { code?: number }) => e.code,
  );

it("watch, list, show, fail, and refusals with their exit codes", { timeout: 120_000 }, async () => {
  const image = randomIndex({ platforms: 2, seed: "jobs-cli" });
  await pushImage(new RegistryClient({ host: src.host }), "cli/app", "v1", image);
  const ok = String((await api(ferry.url, "POST", "/replications", { source: `${src.host}/cli/app:v1`, destinations: [`${dst.host}/cli/app`] })).body.id);
  const watched = await jobs("watch", ok);
  assert.match(watched.stdout, /succeeded/);

  const listed = JSON.parse((await jobs("list", "--json")).stdout) as Array<{ id: string; status: string }>;
  assert.equal(listed.find((j) => j.id === ok)?.status, "succeeded");
  const shown = JSON.parse((await jobs("show", ok, "--json")).stdout) as { status: string; tasks: unknown[]; result: { digest: string } };
  assert.equal(shown.result.digest, image.digest);
  assert.equal(shown.tasks.length, 2);

  const hole = blackHole.host;
  const stuck = String((await api(ferry.url, "POST", "/replications", { source: `${hole}/x/app:v1`, destinations: [`${dst.host}/x/app`] })).body.id);
  const failed = JSON.parse((await jobs("fail", stuck, "--reason", "the source never answers", "--json")).stdout) as {
    status: string;
    error: { code: string };
  };
  assert.deepEqual([failed.status, failed.error.code], ["failed", "CANCELLED"]);
  assert.equal(await exitOf(jobs("watch", stuck)), 1, "watch exits 1 for a failed job");

  assert.equal(await exitOf(jobs("redrive", ok)), 1, "a succeeded job: nothing to re-drive (409)");
  assert.equal(await exitOf(jobs("show", "no-such-job")), 1);
  assert.equal(await exitOf(jobs("fail", stuck)), 2, "--reason is required");
  assert.equal(await exitOf(run(process.execPath, [BIN, "jobs", "list", "--server", ferry.url, "--token", "wrong"])), 1);
});
