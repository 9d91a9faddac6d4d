/**
 * A registry secret rotated under a running `ferry serve`: the source registry's password and the
 * file ferry reads it from change together; the next replication goes through without a restart,
 * and no job fails.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import type { LocalServer } from "../../lib/local/serve.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { staticCredentials } from "../../lib/registry/credentials.ts";
import { type FakeRegistry, startFakeRegistry } from "../fakes/registry.ts";
import { type Distribution, startDistribution } from "../helpers/distribution.ts";
import { pushImage, randomIndex } from "../helpers/images.ts";
import { api, startFerry, waitForJob, writeConfig } from "../helpers/pipeline.ts";

const auth = { kind: "bearer" as const, username: "robot", password: "first" };
let src: FakeRegistry;
let dst: Distribution;
let ferry: LocalServer;
let dir: string;
let file: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-rotation-serve-"));
  [src, dst] = await Promise.all([startFakeRegistry({ auth }), startDistribution()]);
  file = join(dir, "robot.pw");
  await writeFile(file, "first\n");
  const config = await writeConfig(
    join(dir, "ferry.yml"),
    `version: 1
registries: [{ host: "${src.host}", plainHttp: true, username: robot, passwordFile: "${file}" }]
api: { token: test-token, allow: [{ source: "127.0.0.1:*/**", destinations: ["127.0.0.1:*/**"] }] }
pipeline: { visibilityTimeout: 5, maxReceiveCount: 3 }
`,
  );
  ferry = await startFerry(config, { dataDir: join(dir, "state") });
});
after(async () => {
  await ferry?.stop();
  await Promise.all([src?.stop(), dst?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

const replicate = async (repo: string, seed: string) => {
  const image = randomIndex({ platforms: 1, layers: 1, layerSize: 256, seed });
  const c = new RegistryClient({ host: src.host, credentials: staticCredentials("robot", auth.password) });
  await pushImage(c, repo, "v1", image);
  await c.close();
  const posted = await api(ferry.url, "POST", "/replications", { source: `${src.host}/${repo}:v1`, destinations: [`${dst.host}/${repo}`] });
  return { image, job: await waitForJob(ferry.url, String(posted.body.id), undefined, 60_000) };
};

it("a password rotated at the registry and in its file is picked up without a restart; no job fails", { timeout: 120_000 }, async () => {
  const before = await replicate("rot/one", "rotation-1");
  assert.equal(before.job.status, "succeeded", JSON.stringify(before.job.error));
  auth.password = "second";
  await writeFile(file, "second\n");
  const after = await replicate("rot/two", "rotation-2");
  assert.equal(after.job.status, "succeeded", JSON.stringify(after.job.error));
  const d = new RegistryClient({ host: dst.host });
  assert.equal((await d.manifestHead("rot/two", "v1"))?.digest, after.image.digest);
  await d.close();
  const jobs = (await api(ferry.url, "GET", "/replications?limit=10")).body.jobs as Array<{ status: string }>;
  assert.ok(jobs.every((j) => j.status === "succeeded"));
});
