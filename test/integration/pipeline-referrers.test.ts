/**
 * Referrers through `ferry serve`, with real distribution registries whose own notifications
 * call ferry: they are tasks of the job like platforms; a signature pushed after its image was
 * mirrored follows it to every destination; and a rule's signature gate holds a tag back until a
 * valid cosign signature by one of its keys is there.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { LocalServer } from "../../lib/local/serve.ts";
import { fallbackTag } from "../../lib/oci/referrers.ts";
import { parseManifest } from "../../lib/oci/manifest.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { cosignSignature, keyPair } from "../helpers/cosign.ts";
import { type Distribution, freePort, startDistribution } from "../helpers/distribution.ts";
import { pushImage, randomIndex } from "../helpers/images.ts";
import { api, eventually, startFerry, waitForJob, writeConfig } from "../helpers/pipeline.ts";
import { publishScenario, referrersScenario } from "../helpers/referrers-scenario.ts";

let src: Distribution;
let dst1: Distribution;
let dst2: Distribution;
let ferry: LocalServer;
let dir: string;
let srcClient: RegistryClient;
let dst1Client: RegistryClient;
let dst2Client: RegistryClient;
const gateKey = keyPair("ecdsa-p256");
const otherKey = keyPair("ed25519");

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-referrers-"));
  const port = await freePort();
  [src, dst1, dst2] = await Promise.all([
    startDistribution({
      notifications: { url: `http://127.0.0.1:${port}/webhooks/distribution/local`, headers: { Authorization: ["Bearer s3cret"] }, backoff: "500ms" },
    }),
    startDistribution(),
    startDistribution(),
  ]);
  const pem = JSON.stringify(gateKey.publicKeyPem);
  const config = await writeConfig(
    join(dir, "ferry.yml"),
    `version: 1
webhooks:
  - { provider: distribution, id: local, registry: "${src.host}", secret: s3cret }
rules:
  - { name: mirror, source: "${src.host}/signed/*", destinations: ["${dst1.host}/{repo}", "${dst2.host}/{repo}"] }
  - name: gated
    source: "${src.host}/gated/*"
    destinations: ["${dst1.host}/{repo}"]
    verify: { cosign: { publicKeys: [${pem}] } }
api: { token: test-token, allow: [{ source: "127.0.0.1:*/**", destinations: ["127.0.0.1:*/**"] }] }
pipeline: { visibilityTimeout: 2, maxReceiveCount: 2, copyConcurrency: 4 }
`,
  );
  ferry = await startFerry(config, { port, dataDir: join(dir, "state") });
  srcClient = new RegistryClient({ host: src.host });
  dst1Client = new RegistryClient({ host: dst1.host });
  dst2Client = new RegistryClient({ host: dst2.host });
});
after(async () => {
  await ferry?.stop();
  await Promise.all([srcClient, dst1Client, dst2Client].map((c) => c?.close()));
  await Promise.all([src, dst1, dst2].map((r) => r?.stop()));
  await rm(dir, { recursive: true, force: true });
});

const jobsFor = async (part: string) =>
  ((await api(ferry.url, "GET", "/replications?limit=100")).body.jobs as Array<Record<string, unknown>>).filter((j) => String(j.source).includes(part));

describe("referrers in the pipeline", () => {
  it("are tasks of the job like platforms, and arrive byte-exact with the image", async () => {
    const s = referrersScenario("pipe-ref", src.host, "lib/app");
    await publishScenario(srcClient, "lib/app", "v1", s, true); // no rule for lib/: only the API call below copies it
    const posted = await api(ferry.url, "POST", "/replications", { source: `${src.host}/lib/app:v1`, destinations: [`${dst1.host}/copies/app`] });
    const job = await waitForJob(ferry.url, String(posted.body.id));
    assert.equal(job.status, "succeeded", JSON.stringify(job.error));
    const labels = (job.tasks as Array<{ platform: string; state: string }>).map((t) => t.platform);
    assert.equal(labels.filter((l) => l.startsWith("referrer ")).length, 7, labels.join("\n"));
    assert.ok(labels.includes("referrer cosign sig of the image"));
    for (const c of s.cosign) assert.equal((await dst1Client.manifestHead("copies/app", c.tag))?.digest, c.spec.digest, c.tag);
    for (const r of s.oci) assert.deepEqual((await dst1Client.manifestGet("copies/app", r.spec.digest)).bytes, r.spec.bytes);
    const index = parseManifest((await dst1Client.manifestGet("copies/app", fallbackTag(s.image.digest))).bytes).manifest;
    assert.ok(index.kind === "index");
    assert.deepEqual(index.manifests.map((d) => d.digest).sort(), [s.oci[0]?.spec.digest, s.oci[1]?.spec.digest].sort());
    assert.equal((await dst1Client.manifestHead("copies/app", "v1"))?.digest, s.image.digest);
  });

  it("a signature pushed 10 s after its image was mirrored reaches every destination within seconds", { timeout: 90_000 }, async (t) => {
    const image = randomIndex({ platforms: 2, seed: "pipe-late", layers: 1, layerSize: 256 });
    await pushImage(srcClient, "signed/late", "v1", image);
    for (const c of [dst1Client, dst2Client]) await eventually(async () => c.manifestHead("signed/late", "v1"), 30_000, "mirrored image");
    const [job] = await jobsFor("signed/late:v1");
    assert.equal((await waitForJob(ferry.url, String(job?.id))).status, "succeeded");
    await new Promise((r) => setTimeout(r, 10_000));
    const sig = cosignSignature(image.digest, `${src.host}/signed/late`, gateKey.privateKey);
    const pushed = Date.now();
    await pushImage(srcClient, "signed/late", sig.tag, sig);
    for (const c of [dst1Client, dst2Client]) {
      const head = await eventually(async () => c.manifestHead("signed/late", sig.tag), 20_000, "late signature");
      assert.equal(head.digest, sig.digest);
    }
    const seconds = (Date.now() - pushed) / 1000;
    t.diagnostic(`the late signature reached both destinations ${seconds.toFixed(2)} s after its push`);
    assert.ok(seconds < 20, `took ${seconds} s`);
    const late = (await jobsFor(`signed/late@${image.digest}`))[0];
    assert.ok(late, "a job copies just the referrers");
    const done = await waitForJob(ferry.url, String(late.id));
    assert.equal(done.status, "succeeded");
    assert.ok((done.tasks as Array<{ platform: string }>).every((t) => t.platform.startsWith("referrer ")));
  });
});

describe("a rule's signature gate", () => {
  const push = async (repo: string, seed: string, signer?: { privateKey: ReturnType<typeof keyPair>["privateKey"] }) => {
    const image = randomIndex({ platforms: 1, seed, layers: 1, layerSize: 128 });
    if (signer) {
      const sig = cosignSignature(image.digest, `${src.host}/${repo}`, signer.privateKey);
      await pushImage(srcClient, repo, sig.tag, sig);
    }
    await pushImage(srcClient, repo, "v1", image);
    const job = await eventually(async () => (await jobsFor(`${repo}:v1`))[0], 30_000, "gated job");
    return { image, job: await waitForJob(ferry.url, String(job.id)) };
  };

  it("signed with a listed key: succeeded, the tag moves", async () => {
    const { image, job } = await push("gated/good", "gate-good", gateKey);
    assert.equal(job.status, "succeeded", JSON.stringify(job.error));
    assert.equal((await dst1Client.manifestHead("gated/good", "v1"))?.digest, image.digest);
  });

  it("signed with another key: failed SIGNATURE_INVALID, no tag moves, the reason on the job", async () => {
    const { job } = await push("gated/wrong", "gate-wrong", otherKey);
    assert.equal(job.status, "failed");
    assert.equal((job.error as { code: string }).code, "SIGNATURE_INVALID");
    assert.match((job.error as { message: string }).message, /no signature is valid/);
    assert.equal(await dst1Client.manifestHead("gated/wrong", "v1"), undefined);
  });

  it("unsigned: failed UNSIGNED and no tag moves; a valid signature pushed later re-evaluates it, and the tag moves", { timeout: 90_000 }, async () => {
    const { image, job } = await push("gated/late", "gate-late");
    assert.equal(job.status, "failed");
    assert.equal((job.error as { code: string }).code, "UNSIGNED");
    assert.equal(await dst1Client.manifestHead("gated/late", "v1"), undefined);
    const sig = cosignSignature(image.digest, `${src.host}/gated/late`, gateKey.privateKey);
    await pushImage(srcClient, "gated/late", sig.tag, sig);
    const again = await waitForJob(ferry.url, String(job.id), (j) => j.status === "succeeded", 30_000);
    assert.equal((again.result as { digest: string }).digest, image.digest);
    assert.equal((await dst1Client.manifestHead("gated/late", "v1"))?.digest, image.digest);
    assert.equal((await dst1Client.manifestHead("gated/late", sig.tag))?.digest, sig.digest, "the signature travels too");
  });
});
