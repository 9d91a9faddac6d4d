/**
 * Delete propagation end to end: `ferry serve` as a child process, a source distribution whose
 * `notifications:` point at ferry's webhook (pushes and deletes alike), a destination
 * distribution with deletes enabled, and a rule with `deletes: {mode: propagate, delay: 2}`.
 * Tags are deleted at the source as distribution does it (DELETE by digest: one event per tag).
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { RegistryClient } from "../../lib/registry/client.ts";
import { type Distribution, freePort, startDistribution } from "../helpers/distribution.ts";
import { type ManifestSpec, pushImage, randomImage } from "../helpers/images.ts";
import { api, eventually, waitForJob, writeConfig } from "../helpers/pipeline.ts";
import { spawnServe, stopServe } from "../helpers/serve-process.ts";

const BIN = fileURLToPath(new URL("../../bin/ferry.js", import.meta.url));
const SECRET = "deletes-webhook-secret";
let src: Distribution;
let dst: Distribution;
let ferry: ChildProcess | undefined;
let base: string;
let port: number;
let config: string;
let dir: string;
let srcClient: RegistryClient;
let dstClient: RegistryClient;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-deletes-"));
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  [src, dst] = await Promise.all([
    startDistribution({ notifications: { url: `${base}/webhooks/distribution/src`, headers: { Authorization: [`Bearer ${SECRET}`] } } }),
    startDistribution(),
  ]);
  config = await writeConfig(
    join(dir, "ferry.yml"),
    `version: 1
webhooks:
  - { provider: distribution, id: src, registry: "${src.host}", secret: ${SECRET} }
rules:
  - name: quick
    source: "${src.host}/del/**"
    destinations: ["${dst.host}/{repo}"]
    deletes: { mode: propagate, delay: 2 }
  - name: slow
    source: "${src.host}/slow/**"
    destinations: ["${dst.host}/{repo}"]
    deletes: { mode: propagate, delay: 8 }
  - name: keep
    source: "${src.host}/keep/**"
    destinations: ["${dst.host}/{repo}"]
api: { token: test-token }
pipeline: { visibilityTimeout: 2 }
`,
  );
  ferry = await spawnServe(BIN, config, port, { args: ["--data-dir", join(dir, "data")], inheritStderr: process.env.DEBUG_DELETES === "1" });
  srcClient = new RegistryClient({ host: src.host });
  dstClient = new RegistryClient({ host: dst.host });
});
after(async () => {
  await stopServe(ferry);
  await Promise.all([srcClient?.close(), dstClient?.close()]);
  await Promise.all([src?.stop(), dst?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

/** Pushes to the source and waits until ferry has put the tag downstream. */
async function mirrored(repo: string, tag: string, image: ManifestSpec): Promise<void> {
  await pushImage(srcClient, repo, tag, image);
  await eventually(async () => ((await dstClient.manifestHead(repo, tag))?.digest === image.digest ? true : undefined), 30_000, `${repo}:${tag} mirrored`);
}

/** Deletes at the source as distribution does: by digest (every tag on it sends a delete event). */
async function deleteAtSource(repo: string, digest: string): Promise<void> {
  await srcClient.manifestDelete(repo, digest);
}

/** The delete job for `repo:tag` (its source names the tag alone; a push job's names the digest too). */
async function deleteJob(repo: string, tag: string): Promise<Record<string, unknown>> {
  const source = `${src.host}/${repo}:${tag}`;
  return eventually(
    async () => {
      const r = await api(base, "GET", "/replications?limit=100");
      return (r.body.jobs as Array<Record<string, unknown>>).find((j) => j.source === source);
    },
    30_000,
    `a delete job for ${source}`,
  );
}

type Deletion = { destination: string; outcome: string; digest?: string; by?: string; reason?: string };
const deletionsOf = (job: Record<string, unknown>) => (job.result as { deletions?: Deletion[] } | undefined)?.deletions ?? [];

describe("deletes: propagate", () => {
  it("a tag deleted at the source is there until the delay has passed, then gone downstream; the job says what it deleted", async () => {
    const image = randomImage({ seed: "del-a" });
    await mirrored("del/a", "v1", image);
    await deleteAtSource("del/a", image.digest);
    const queued = await deleteJob("del/a", "v1");
    const waiting = (await api(base, "GET", `/replications/${queued.id}`)).body;
    assert.equal(waiting.action, "delete", "the API says it is a delete job");
    if (waiting.status === "queued") assert.equal((await dstClient.manifestHead("del/a", "v1"))?.digest, image.digest, "still there while the job waits");
    const job = await waitForJob(base, String(queued.id));
    assert.equal(job.status, "succeeded", JSON.stringify(job));
    assert.deepEqual(deletionsOf(job), [{ destination: `${dst.host}/del/a:v1`, outcome: "deleted", digest: image.digest, by: "digest" }]);
    assert.equal(await dstClient.manifestHead("del/a", "v1"), undefined);
    assert.equal(await dstClient.manifestHead("del/a", image.digest), undefined, "distribution 2.8 deletes by digest");
  });

  it("a tag pushed again within the delay stays", async () => {
    const image = randomImage({ seed: "slow-b" });
    await mirrored("slow/b", "v1", image);
    await deleteAtSource("slow/b", image.digest);
    const queued = await deleteJob("slow/b", "v1");
    await pushImage(srcClient, "slow/b", "v1", image);
    const job = await waitForJob(base, String(queued.id));
    assert.equal(job.status, "skipped", JSON.stringify(job));
    assert.deepEqual(
      deletionsOf(job).map((d) => [d.outcome, d.reason]),
      [["kept", "REPUSHED"]],
    );
    assert.equal((await dstClient.manifestHead("slow/b", "v1"))?.digest, image.digest);
  });

  it("a tag pushed straight to the destination (ferry found it up to date, wrote nothing) stays", async () => {
    const image = randomImage({ seed: "del-c" });
    await pushImage(dstClient, "del/c", "v1", image);
    await mirrored("del/c", "v1", image);
    await deleteAtSource("del/c", image.digest);
    const job = await waitForJob(base, String((await deleteJob("del/c", "v1")).id));
    assert.equal(job.status, "skipped", JSON.stringify(job));
    assert.deepEqual(
      deletionsOf(job).map((d) => [d.outcome, d.reason]),
      [["kept", "NOT_WRITTEN_BY_FERRY"]],
    );
    assert.equal((await dstClient.manifestHead("del/c", "v1"))?.digest, image.digest);
  });

  it("a tag someone else moved after ferry wrote it stays, at what they put there", async () => {
    const ours = randomImage({ seed: "del-d" });
    const theirs = randomImage({ seed: "del-d-theirs" });
    await mirrored("del/d", "v1", ours);
    await pushImage(dstClient, "del/d", "v1", theirs);
    await deleteAtSource("del/d", ours.digest);
    const job = await waitForJob(base, String((await deleteJob("del/d", "v1")).id));
    assert.equal(job.status, "skipped", JSON.stringify(job));
    assert.deepEqual(
      deletionsOf(job).map((d) => [d.outcome, d.reason, d.digest]),
      [["kept", "MOVED_SINCE_WRITTEN", ours.digest]],
    );
    assert.equal((await dstClient.manifestHead("del/d", "v1"))?.digest, theirs.digest);
  });

  it("a manifest another destination tag references is not deleted (2.8 cannot delete a tag alone)", async () => {
    const image = randomImage({ seed: "del-e" });
    await mirrored("del/e", "v1", image);
    await pushImage(dstClient, "del/e", "pinned", image);
    await deleteAtSource("del/e", image.digest);
    const job = await waitForJob(base, String((await deleteJob("del/e", "v1")).id));
    assert.equal(job.status, "skipped", JSON.stringify(job));
    assert.deepEqual(
      deletionsOf(job).map((d) => [d.outcome, d.reason]),
      [["kept", "REFERENCED"]],
    );
    assert.equal((await dstClient.manifestHead("del/e", "v1"))?.digest, image.digest);
    assert.equal((await dstClient.manifestHead("del/e", "pinned"))?.digest, image.digest);
  });

  it("a delete job waiting out its delay survives kill -9 of ferry serve, and runs after the restart", async () => {
    const image = randomImage({ seed: "del-crash" });
    await mirrored("slow/crash", "v1", image);
    await deleteAtSource("slow/crash", image.digest);
    const queued = await deleteJob("slow/crash", "v1");
    ferry?.kill("SIGKILL");
    await new Promise((r) => ferry?.once("exit", r));
    assert.equal((await dstClient.manifestHead("slow/crash", "v1"))?.digest, image.digest, "still there: the delay (8 s) has not passed");
    ferry = await spawnServe(BIN, config, port, { args: ["--data-dir", join(dir, "data")] });
    const job = await waitForJob(base, String(queued.id), undefined, 60_000);
    assert.equal(job.status, "succeeded", JSON.stringify(job));
    assert.deepEqual(
      deletionsOf(job).map((d) => [d.destination, d.outcome]),
      [[`${dst.host}/slow/crash:v1`, "deleted"]],
    );
    assert.equal(await dstClient.manifestHead("slow/crash", "v1"), undefined);
  });

  it("a rule without deletes makes no delete job, and the destination keeps the tag", async () => {
    const image = randomImage({ seed: "keep-f" });
    await mirrored("keep/f", "v1", image);
    const hook = await fetch(`${base}/webhooks/distribution/src`, {
      method: "POST",
      headers: { authorization: `Bearer ${SECRET}`, "content-type": "application/json" },
      body: JSON.stringify({
        events: [{ id: "keep-f-del", timestamp: new Date().toISOString(), action: "delete", target: { repository: "keep/f", tag: "v1" } }],
      }),
    });
    assert.equal(hook.status, 202);
    assert.equal(((await hook.json()) as { accepted: number }).accepted, 0);
    assert.equal((await dstClient.manifestHead("keep/f", "v1"))?.digest, image.digest);
  });
});
