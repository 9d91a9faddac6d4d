/**
 * The event-driven pipeline end to end, through the local runtime of `ferry serve` (the same
 * handlers as on AWS, SQS pollers, fauxqs and dynalite), with real distribution registries
 * whose own notifications call ferry's webhook. skopeo checks the results.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import type { LocalServer } from "../../lib/local/serve.ts";
import { parseManifest } from "../../lib/oci/manifest.ts";
import { formatPlatform } from "../../lib/oci/platform.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { type Distribution, freePort, startDistribution } from "../helpers/distribution.ts";
import { startFaultProxy } from "../helpers/fault-proxy.ts";
import { pushImage, randomIndex } from "../helpers/images.ts";
import { api, distributionEnvelope, eventually, startFerry, waitForJob, writeConfig } from "../helpers/pipeline.ts";
import { skopeoInspectRaw } from "../helpers/skopeo.ts";

let src: Distribution;
let dst: Distribution;
let ferry: LocalServer;
let dir: string;
let srcClient: RegistryClient;
let dstClient: RegistryClient;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-e2e-"));
  const port = await freePort();
  [src, dst] = await Promise.all([
    startDistribution({
      notifications: { url: `http://127.0.0.1:${port}/webhooks/distribution/local`, headers: { Authorization: ["Bearer s3cret"] }, backoff: "500ms" },
    }),
    startDistribution(),
  ]);
  const config = await writeConfig(
    join(dir, "ferry.yml"),
    `version: 1
webhooks:
  - { provider: distribution, id: local, registry: "${src.host}", secret: s3cret }
rules:
  - { name: mirror, source: "${src.host}/team/**", destinations: ["${dst.host}/mirror/{repo}"] }
  - { name: arm-only, source: "${src.host}/arm/*", destinations: ["${dst.host}/{name}"], platforms: [linux/arm64] }
api: { token: test-token, allow: [{ source: "127.0.0.1:*/**", destinations: ["127.0.0.1:*/**"] }] }
pipeline: { visibilityTimeout: 2, maxReceiveCount: 2, copyConcurrency: 4 }
`,
  );
  ferry = await startFerry(config, { port, dataDir: join(dir, "state") });
  srcClient = new RegistryClient({ host: src.host });
  dstClient = new RegistryClient({ host: dst.host });
});
after(async () => {
  await ferry?.stop();
  await Promise.all([srcClient?.close(), dstClient?.close()]);
  await Promise.all([src?.stop(), dst?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

const platformsOf = (bytes: Buffer) => {
  const m = parseManifest(bytes).manifest;
  return m.kind === "index" ? m.manifests.map((d) => formatPlatform(d.platform)) : [];
};

describe("automatic mirroring", () => {
  it("a push into the source registry reaches the destination by its own notifications: all platforms, same digest", async () => {
    const image = randomIndex({ platforms: 3, attestations: true, seed: "e2e-push" });
    await pushImage(srcClient, "team/web", "v1", image);
    const head = await eventually(async () => dstClient.manifestHead("mirror/team/web", "v1"), 30_000, "replicated tag");
    assert.equal(head.digest, image.digest);
    assert.deepEqual(await skopeoInspectRaw(`${dst.host}/mirror/team/web:v1`), image.bytes);
    const jobs = (await api(ferry.url, "GET", "/replications?limit=10")).body.jobs as Array<Record<string, unknown>>;
    const job = jobs.find((j) => String(j.source).includes("team/web:v1"));
    assert.equal(job?.trigger, "webhook");
    const full = await waitForJob(ferry.url, String(job?.id));
    assert.equal(full.status, "succeeded");
    assert.equal((full.tasks as unknown[]).length, 6, "one task per child manifest (3 platforms + 3 attestations)");
  });

  it("a rule's platform filter rebuilds the index downstream", async () => {
    const image = randomIndex({ platforms: 3, seed: "e2e-arm" });
    await pushImage(srcClient, "arm/tool", "v2", image);
    const head = await eventually(async () => dstClient.manifestHead("tool", "v2"), 30_000, "filtered tag");
    assert.notEqual(head.digest, image.digest);
    assert.deepEqual(platformsOf(await skopeoInspectRaw(`${dst.host}/tool:v2`)), ["linux/arm64/v8"]);
  });

  it("the same webhook delivered 5 times yields one job and one merge", async () => {
    const image = randomIndex({ platforms: 2, seed: "e2e-dup" });
    await pushImage(new RegistryClient({ host: src.host }), "untracked/app", "v1", image); // no rule: no notification effect
    const body = distributionEnvelope({
      id: "delivery-42",
      timestamp: new Date().toISOString(),
      host: src.host,
      repository: "team/dup",
      tag: "v1",
      digest: image.digest,
      mediaType: image.mediaType,
    });
    // the image must exist under team/dup for the copy; push it without a tag (children + index by digest)
    await pushImage(srcClient, "team/dup", undefined, image);
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        fetch(`${ferry.url}/webhooks/distribution/local`, { method: "POST", headers: { authorization: "Bearer s3cret" }, body }).then(async (r) => ({
          status: r.status,
          body: (await r.json()) as { jobs?: string[] },
        })),
      ),
    );
    assert.ok(answers.every((a) => a.status === 202));
    const ids = new Set(answers.flatMap((a) => a.body.jobs ?? []));
    assert.equal(ids.size, 1, "one job for five deliveries");
    const [id] = [...ids];
    const job = await waitForJob(ferry.url, String(id));
    assert.equal(job.status, "succeeded", JSON.stringify(job));
    const stored = await ferry.store.getJob(String(id));
    assert.equal(stored?.mergeRuns, 1, "merge ran once");
    assert.equal((await dstClient.manifestHead("mirror/team/dup", "v1"))?.digest, image.digest);
  });

  it("two events for one tag leave the newer digest on it, whatever order they finish in", async () => {
    const older = randomIndex({ platforms: 2, seed: "e2e-older" });
    const newer = randomIndex({ platforms: 2, seed: "e2e-newer" });
    for (const [tag, order] of [
      ["a", [newer, older]],
      ["b", [older, newer]],
    ] as const) {
      await pushImage(srcClient, "team/order", undefined, older);
      await pushImage(srcClient, "team/order", undefined, newer);
      for (const image of order) {
        const t = image === older ? "2026-01-01T00:00:00Z" : "2026-01-01T00:05:00Z";
        const body = distributionEnvelope({
          id: `order-${tag}-${image.digest.slice(7, 15)}`,
          timestamp: t,
          host: src.host,
          repository: "team/order",
          tag,
          digest: image.digest,
          mediaType: image.mediaType,
        });
        const r = await fetch(`${ferry.url}/webhooks/distribution/local`, { method: "POST", headers: { authorization: "Bearer s3cret" }, body });
        const { jobs } = (await r.json()) as { jobs: string[] };
        const job = await waitForJob(ferry.url, String(jobs[0])); // each finishes before the next starts
        if (tag === "a" && image === older) {
          // Superseded: the tag stays, and the older root is still put by digest (its tag never was).
          const result = job.result as { destinations: Array<{ superseded?: boolean; digest: string }> };
          assert.equal(result.destinations[0]?.superseded, true, JSON.stringify(job));
          assert.equal((await dstClient.manifestHead("mirror/team/order", older.digest))?.digest, older.digest, "the older root by digest");
        }
      }
      assert.equal((await dstClient.manifestHead("mirror/team/order", tag))?.digest, newer.digest, `tag ${tag}: newer digest wins`);
    }
  });
});

describe("one-off replications through the API", () => {
  it("outside the rules and api.allow: 403 FORBIDDEN, and no job", async () => {
    const before = ((await api(ferry.url, "GET", "/replications?limit=100")).body.jobs as unknown[]).length;
    const r = await api(ferry.url, "POST", "/replications", { source: "registry.example.com/private/app:v1", destinations: [`${dst.host}/stolen/app`] });
    assert.equal(r.status, 403);
    assert.equal(r.body.code, "FORBIDDEN");
    assert.equal(((await api(ferry.url, "GET", "/replications?limit=100")).body.jobs as unknown[]).length, before);
  });

  it("POST /replications → 202; the job ends succeeded with the right result", async () => {
    const image = randomIndex({ platforms: 2, seed: "e2e-api" });
    await pushImage(new RegistryClient({ host: src.host }), "lib/api", "1.0", image);
    const r = await api(ferry.url, "POST", "/replications", { source: `${src.host}/lib/api:1.0`, destinations: [`${dst.host}/copies/api`] });
    assert.equal(r.status, 202);
    assert.equal(r.body.status, "queued");
    assert.equal(r.body.statusUrl, `/replications/${r.body.id}`);
    const job = await waitForJob(ferry.url, String(r.body.id));
    assert.equal(job.status, "succeeded");
    const result = job.result as Record<string, unknown>;
    assert.equal(result.digest, image.digest);
    assert.equal(result.addressByTag, `${dst.host}/copies/api:1.0`);
    assert.equal(result.addressByDigest, `${dst.host}/copies/api@${image.digest}`);
    assert.deepEqual(await skopeoInspectRaw(`${dst.host}/copies/api:1.0`), image.bytes);
    const tasks = job.tasks as Array<Record<string, unknown>>;
    assert.deepEqual(
      tasks.map((t) => t.state),
      ["done", "done"],
    );
    assert.deepEqual(tasks.map((t) => t.platform).sort(), ["linux/amd64", "linux/arm64/v8"]);
    // a second identical request is skipped: the destination is up to date
    const again = await api(ferry.url, "POST", "/replications", { source: `${src.host}/lib/api:1.0`, destinations: [`${dst.host}/copies/api`] });
    assert.equal((await waitForJob(ferry.url, String(again.body.id))).status, "skipped");
  });

  it("bad requests get 400 naming the field, a missing token 401, unknown jobs 404", async () => {
    const cases: Array<[unknown, string | undefined]> = [
      [{ destinations: ["x/y"] }, "source"],
      [{ source: "a/b:c", destinations: [] }, "destinations"],
      [{ source: "Bad Ref", destinations: ["x/y"] }, "source"],
      [{ source: "a/b:c", destinations: ["x/Y"] }, "destinations[0]"],
      [{ source: "a/b:c", destinations: ["x/y"], platforms: ["linux"] }, "platforms[0]"],
      ["{not json", undefined],
    ];
    for (const [body, field] of cases) {
      const r = await api(ferry.url, "POST", "/replications", body);
      assert.equal(r.status, 400, JSON.stringify(body));
      if (field) assert.equal(r.body.field, field, JSON.stringify(r.body));
    }
    assert.equal((await api(ferry.url, "POST", "/replications", { source: "a/b:c", destinations: ["x/y"] }, "wrong")).status, 401);
    assert.equal((await api(ferry.url, "GET", "/replications/nope")).status, 404);
    const before = ((await api(ferry.url, "GET", "/replications?limit=100")).body.jobs as unknown[]).length;
    assert.ok(before >= 1);
  });

  it("a webhook with a forged secret, an unknown sender, a body over 1 MiB, or no matching rule enqueues nothing", async () => {
    const body = distributionEnvelope({
      id: "forged",
      timestamp: new Date().toISOString(),
      host: src.host,
      repository: "team/x",
      tag: "v1",
      digest: `sha256:${"a".repeat(64)}`,
      mediaType: "application/vnd.oci.image.index.v1+json",
    });
    const post = (path: string, auth: string, b = body) => fetch(`${ferry.url}${path}`, { method: "POST", headers: { authorization: auth }, body: b });
    assert.equal((await post("/webhooks/distribution/local", "Bearer forged")).status, 401);
    assert.equal((await post("/webhooks/distribution/nope", "Bearer s3cret")).status, 404);
    assert.equal((await post("/webhooks/nope/local", "Bearer s3cret")).status, 404);
    assert.equal((await post("/webhooks/distribution/local", "Bearer s3cret", "{bad")).status, 400);
    const huge = JSON.stringify({ events: [], padding: "x".repeat(1024 * 1024 + 10) });
    assert.equal((await post("/webhooks/distribution/local", "Bearer s3cret", huge)).status, 413);
    const past = JSON.stringify({ events: [], padding: "x".repeat(3 * 1024 * 1024) }); // beyond the front's read cap
    assert.equal((await post("/webhooks/distribution/local", "Bearer s3cret", past)).status, 413);
    const unmatched = body.replace("team/x", "other/x");
    const r = await post("/webhooks/distribution/local", "Bearer s3cret", unmatched);
    assert.equal(r.status, 202);
    assert.equal(((await r.json()) as { ignored?: string }).ignored, "no matching rule");
  });
});

describe("failure handling", () => {
  it("a poison message lands in the DLQ and its job shows failed with the reason", async () => {
    const store = ferry.store;
    await store.createJob({
      id: "poisoned",
      request: { source: `${src.host}/team/p:v1`, destinations: [`${dst.host}/p`], trigger: "api", eventTime: new Date().toISOString() },
    });
    await store.updateJob("poisoned", { status: "copying", taskCount: 1 });
    await ferry.backends.sqs.send(
      new SendMessageCommand({ QueueUrl: ferry.backends.queues.copy, MessageBody: JSON.stringify({ v: 99, kind: "copy", jobId: "poisoned" }) }),
    );
    const job = await waitForJob(ferry.url, "poisoned", (j) => j.status === "failed", 30_000);
    assert.equal((job.error as { code?: string }).code, "POISON_MESSAGE");
    const dlq = ferry.backends.deadLetterQueues.copy ?? "";
    const landed = await eventually(
      async () => {
        const out = await ferry.backends.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq, WaitTimeSeconds: 1, MaxNumberOfMessages: 10 }));
        return out.Messages?.find((m) => m.Body?.includes('"poisoned"'));
      },
      30_000,
      "message in the DLQ",
    );
    assert.ok(landed);
  });

  it("a missing source fails the job with the reason, and no tag appears", async () => {
    const r = await api(ferry.url, "POST", "/replications", { source: `${src.host}/team/missing:v1`, destinations: [`${dst.host}/missing`] });
    const job = await waitForJob(ferry.url, String(r.body.id));
    assert.equal(job.status, "failed");
    const error = job.error as { code?: string; side?: string; status?: number };
    assert.equal(error.side, "source");
    assert.ok(error.code === "NOT_FOUND" || (error.code === "REGISTRY" && error.status === 404), JSON.stringify(error));
    assert.equal(await dstClient.manifestHead("missing", "v1"), undefined);
  });
});

describe("requests a job makes at the destination", () => {
  it("the root goes up once, by its tag; a later job into another repository mounts the blobs the first one uploaded", async (t) => {
    const seen: string[] = [];
    const proxy = await startFaultProxy(dst.host, {
      eligible: (method, path) => {
        seen.push(`${method} ${path.split("?")[0]}`);
        return false; // no faults: it only logs
      },
    });
    t.after(() => proxy.stop());
    const atSource: string[] = [];
    const srcProxy = await startFaultProxy(src.host, {
      eligible: (method, path) => {
        atSource.push(`${method} ${path.split("?")[0]}`);
        return false;
      },
    });
    t.after(() => srcProxy.stop());
    const image = randomIndex({ platforms: 2, layers: 1, seed: "e2e-requests" });
    await pushImage(srcClient, "lib/counted", "v1", image);
    const run = async (repo: string) => {
      seen.length = 0;
      atSource.length = 0;
      const r = await api(ferry.url, "POST", "/replications", { source: `${srcProxy.host}/lib/counted:v1`, destinations: [`${proxy.host}/${repo}:v1`] });
      assert.equal((await waitForJob(ferry.url, String(r.body.id))).status, "succeeded");
      return seen.filter((x) => x.startsWith("PUT /v2/") && x.includes("/manifests/"));
    };
    const children = parseManifest(image.bytes).manifest;
    assert.equal(children.kind, "index");
    const childPuts = children.manifests.map((d) => `PUT /v2/first/manifests/${d.digest}`).sort();
    assert.deepEqual((await run("first")).sort(), [...childPuts, "PUT /v2/first/manifests/v1"].sort(), "children by digest, the root by tag only");
    // At the source, each manifest is read once: the root by its tag (no HEAD first), each child
    // by plan, which hands it to its copy task.
    const manifestReads = atSource.filter((x) => x.includes("/manifests/"));
    const childGets = children.manifests.map((d) => `GET /v2/lib/counted/manifests/${d.digest}`);
    assert.deepEqual(manifestReads.sort(), ["GET /v2/lib/counted/manifests/v1", ...childGets].sort(), "one read per manifest");
    assert.equal((await dstClient.manifestHead("first", image.digest))?.digest, image.digest, "the tag's PUT put the root by digest too");
    await run("second");
    assert.deepEqual(
      seen.filter((x) => x.includes("/blobs/") && x !== "POST /v2/second/blobs/uploads/"),
      [],
      "the second job only mounts: no blob HEAD, no upload",
    );
    assert.deepEqual(await skopeoInspectRaw(`${dst.host}/second:v1`), image.bytes);
    assert.deepEqual(
      atSource.filter((x) => x.includes("/blobs/")),
      [],
      "nothing read from the source's blobs: this process put them there from the same source",
    );
  });
});
