/**
 * Pushes announced in five senders' formats — distribution, Harbor, GitHub, Docker Hub, Quay —
 * each end in a replicated, digest-equal image (through the local runtime of `ferry serve`, real
 * registries). A forged signature and a payload naming an unconfigured registry replicate nothing.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { LocalServer } from "../../lib/local/serve.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { type Distribution, freePort, startDistribution } from "../helpers/distribution.ts";
import { pushImage, randomIndex } from "../helpers/images.ts";
import { startFerry, waitForJob, writeConfig } from "../helpers/pipeline.ts";
import { skopeoInspectRaw } from "../helpers/skopeo.ts";
import { routeOf, sample } from "../helpers/webhook-samples.ts";

const SECRET = "e2e-webhook-secret";
let src: Distribution;
let dst: Distribution;
let ferry: LocalServer;
let dir: string;
let srcClient: RegistryClient;
let dstClient: RegistryClient;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-hooks-"));
  [src, dst] = await Promise.all([startDistribution(), startDistribution()]);
  const hooks = ["distribution", "harbor", "github", "dockerhub", "quay"]
    .map((p) => `  - { provider: ${p}, id: src, registry: "${src.host}", secret: ${SECRET} }`)
    .join("\n");
  const config = await writeConfig(
    join(dir, "ferry.yml"),
    `version: 1
webhooks:
${hooks}
  - { provider: github, id: open, secret: ${SECRET} }
rules:
  - { name: mirror, source: "${src.host}/fmt/**", destinations: ["${dst.host}/{repo}"] }
api: { token: test-token }
pipeline: { visibilityTimeout: 2 }
`,
  );
  ferry = await startFerry(config, { port: await freePort(), dataDir: false });
  srcClient = new RegistryClient({ host: src.host });
  dstClient = new RegistryClient({ host: dst.host });
});
after(async () => {
  await ferry?.stop();
  await Promise.all([srcClient?.close(), dstClient?.close()]);
  await Promise.all([src?.stop(), dst?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

async function deliver(route: string, id: string, req: ReturnType<typeof sample>["req"]) {
  const qs = new URLSearchParams(req.query).toString();
  const res = await fetch(`${ferry.url}/webhooks/${route}/${id}${qs ? `?${qs}` : ""}`, { method: "POST", headers: req.headers, body: req.body });
  return { status: res.status, body: (await res.json()) as { jobs?: string[]; ignored?: string } };
}

describe("pushes announced in five formats", () => {
  for (const p of ["distribution", "harbor", "harbor-ce", "github", "dockerhub", "quay"]) {
    it(`${p}: replicated, digest-equal`, async () => {
      const repo = `fmt/${p}`;
      const image = randomIndex({ platforms: 2, seed: `hook-${p}` });
      await pushImage(srcClient, repo, "v1", image);
      const s = sample(p, "push", { registry: src.host, repository: repo, tag: "v1", digest: image.digest, mediaType: image.mediaType }, SECRET);
      const r = await deliver(routeOf(p), "src", s.req);
      assert.equal(r.status, 202, JSON.stringify(r.body));
      assert.equal(r.body.jobs?.length, 1);
      const job = await waitForJob(ferry.url, String(r.body.jobs?.[0]));
      assert.equal(job.status, "succeeded", JSON.stringify(job));
      assert.equal((await dstClient.manifestHead(repo, "v1"))?.digest, image.digest);
      assert.deepEqual(await skopeoInspectRaw(`${dst.host}/${repo}:v1`), image.bytes);
    });
  }
});

describe("nothing replicates from untrusted input", () => {
  it("a forged GitHub signature gets 401 and nothing is queued", async () => {
    const image = randomIndex({ platforms: 1, seed: "forged" });
    await pushImage(srcClient, "fmt/forged", "v1", image);
    const s = sample("github", "push", { registry: src.host, repository: "fmt/forged", tag: "v1", digest: image.digest, mediaType: image.mediaType }, SECRET);
    const r = await deliver("github", "src", s.forged);
    assert.equal(r.status, 401);
    const jobs = (await (await fetch(`${ferry.url}/replications?limit=100`, { headers: { authorization: "Bearer test-token" } })).json()) as {
      jobs: Array<{ source: string }>;
    };
    assert.ok(!jobs.jobs.some((j) => j.source.includes("fmt/forged")));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await dstClient.manifestHead("fmt/forged", "v1"), undefined);
  });

  it("a payload naming an unconfigured registry is ignored: no rule, no pull", async () => {
    // the 'open' sender has no configured registry, so the payload's host decides — and no rule names it
    const s = sample(
      "github",
      "push",
      {
        registry: "evil.example.com:5000",
        repository: "fmt/app",
        tag: "v1",
        digest: `sha256:${"e".repeat(64)}`,
        mediaType: "application/vnd.oci.image.index.v1+json",
      },
      SECRET,
    );
    const r = await deliver("github", "open", s.req);
    assert.equal(r.status, 202);
    assert.equal(r.body.ignored, "no matching rule");
  });
});
