/**
 * `ferry copy` carries what refers to an image: cosign's tags, OCI 1.1 referrers (a referrer of a
 * referrer included) and buildx attestations, byte-exact; on distribution 2.8 through the
 * referrers fallback tag (keeping what the destination lists already), and on the fake registry
 * through the referrers API. A second copy changes nothing. skopeo reads what arrived.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fallbackTag } from "../../lib/oci/referrers.ts";
import { parseManifest } from "../../lib/oci/manifest.ts";
import { copyImage } from "../../lib/replicate/copy.ts";
import { RegistryStore } from "../../lib/replicate/registry-store.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { type FakeRegistry, startFakeRegistry } from "../fakes/registry.ts";
import { referrerArtifact, subjectOf } from "../helpers/cosign.ts";
import { type Distribution, startDistribution } from "../helpers/distribution.ts";
import { allManifests, pushImage } from "../helpers/images.ts";
import { listUnderFallbackTag, publishScenario, referrersScenario } from "../helpers/referrers-scenario.ts";
import { skopeoInspectRaw } from "../helpers/skopeo.ts";

let src: Distribution;
let dst: Distribution;
let srcClient: RegistryClient;
let dstClient: RegistryClient;

before(async () => {
  [src, dst] = await Promise.all([startDistribution(), startDistribution()]);
  srcClient = new RegistryClient({ host: src.host });
  dstClient = new RegistryClient({ host: dst.host });
});
after(async () => {
  await Promise.all([srcClient?.close(), dstClient?.close()]);
  await Promise.all([src?.stop(), dst?.stop()]);
});

const entries = (bytes: Buffer) => {
  const m = parseManifest(bytes).manifest;
  return m.kind === "index" ? m.manifests.map((d) => d.digest) : [];
};

describe("referrers on distribution 2.8 (fallback tag)", () => {
  it("arrive byte-exact with the image, the destination's own referrers kept; a second copy changes nothing", async () => {
    const s = referrersScenario("ref-dist", src.host, "signed/app");
    await publishScenario(srcClient, "signed/app", "v1", s, true);
    // The destination already lists a referrer of its own for the same subject.
    const theirs = referrerArtifact(subjectOf(s.image), "application/vnd.example.scan+json", "their scan");
    await pushImage(dstClient, "signed/app", undefined, theirs);
    await listUnderFallbackTag(dstClient, "signed/app", s.image.digest, [theirs]);

    const first = await copyImage(new RegistryStore(srcClient, "signed/app"), "v1", new RegistryStore(dstClient, "signed/app"), "v1");
    assert.equal(first.referrers.length, 7, JSON.stringify(first.referrers, null, 1));
    assert.ok(first.referrers.every((r) => r.action === "pushed"));
    for (const m of allManifests(s.image)) assert.deepEqual((await dstClient.manifestGet("signed/app", m.digest)).bytes, m.bytes, "image and attestations");
    for (const c of s.cosign) {
      assert.deepEqual(await skopeoInspectRaw(`${dst.host}/signed/app:${c.tag}`), c.spec.bytes, `cosign tag ${c.tag}`);
    }
    for (const r of s.oci) assert.deepEqual((await dstClient.manifestGet("signed/app", r.spec.digest)).bytes, r.spec.bytes);
    const index = await dstClient.manifestGet("signed/app", fallbackTag(s.image.digest));
    const [spdx, bundle, spdxSig] = s.oci.map((r) => r.spec.digest);
    assert.deepEqual(entries(index.bytes), [theirs.digest, spdx, bundle], "theirs kept first, ours added");
    assert.deepEqual(entries((await dstClient.manifestGet("signed/app", fallbackTag(spdx as string))).bytes), [spdxSig]);
    assert.equal((await dstClient.manifestHead("signed/app", "v1"))?.digest, s.image.digest);

    const again = await copyImage(new RegistryStore(srcClient, "signed/app"), "v1", new RegistryStore(dstClient, "signed/app"), "v1");
    assert.equal(again.upToDate, true);
    assert.equal(again.manifests.pushed, 0);
    assert.ok(again.referrers.every((r) => r.action === "exists"));
    assert.equal((await dstClient.manifestHead("signed/app", fallbackTag(s.image.digest)))?.digest, index.digest, "the fallback index is not rewritten");
  });

  it("--referrers none leaves them behind; a filter takes only the artifact types asked", async () => {
    const s = referrersScenario("ref-filter", src.host, "filter/app");
    await publishScenario(srcClient, "filter/app", "v1", s, true);
    const dry = await copyImage(new RegistryStore(srcClient, "filter/app"), "v1", new RegistryStore(dstClient, "dry/app"), "v1", { dryRun: true });
    assert.equal(dry.referrers.length, 7, "a dry run lists every referrer");
    assert.ok(dry.referrers.every((r) => r.action === "would-push"));
    assert.equal(await dstClient.manifestHead("dry/app", s.cosign[0]?.tag as string), undefined, "and writes none");
    const none = await copyImage(new RegistryStore(srcClient, "filter/app"), "v1", new RegistryStore(dstClient, "none/app"), "v1", { referrers: false });
    assert.deepEqual(none.referrers, []);
    assert.equal(await dstClient.manifestHead("none/app", s.cosign[0]?.tag as string), undefined);
    const sbomOnly = await copyImage(new RegistryStore(srcClient, "filter/app"), "v1", new RegistryStore(dstClient, "sbom/app"), "v1", {
      referrers: { artifactTypes: ["application/spdx+json"] },
    });
    assert.deepEqual(
      sbomOnly.referrers.map((r) => r.artifactType),
      ["application/spdx+json"],
    );
  });
});

describe("referrers on the fake registry (referrers API)", () => {
  let a: FakeRegistry;
  let b: FakeRegistry;
  before(async () => {
    [a, b] = await Promise.all([startFakeRegistry({ referrers: true }), startFakeRegistry({ referrers: true })]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it("the same result through the API: listed by the destination itself, no fallback tag written", async () => {
    const ac = new RegistryClient({ host: a.host });
    const bc = new RegistryClient({ host: b.host });
    try {
      const s = referrersScenario("ref-api", a.host, "signed/app");
      await publishScenario(ac, "signed/app", "v1", s, false);
      const r = await copyImage(new RegistryStore(ac, "signed/app"), "v1", new RegistryStore(bc, "signed/app"), "v1");
      assert.equal(r.referrers.length, 7);
      assert.deepEqual(new Set(r.referrers.filter((x) => x.via !== "cosign").map((x) => x.via)), new Set(["api"]));
      const listed = await bc.referrersList("signed/app", s.image.digest);
      assert.equal(listed.supported, true);
      assert.deepEqual(listed.descriptors.map((d) => d.digest).sort(), [s.oci[0]?.spec.digest, s.oci[1]?.spec.digest].sort());
      assert.equal(await bc.manifestHead("signed/app", fallbackTag(s.image.digest)), undefined);
      for (const c of s.cosign) assert.equal((await bc.manifestHead("signed/app", c.tag))?.digest, c.spec.digest);
      const again = await copyImage(new RegistryStore(ac, "signed/app"), "v1", new RegistryStore(bc, "signed/app"), "v1");
      assert.equal(again.manifests.pushed, 0);
    } finally {
      await Promise.all([ac.close(), bc.close()]);
    }
  });
});
