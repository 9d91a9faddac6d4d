/** Copy-engine behaviour measured on the wire, against fake registries that log every request. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { copyImage } from "../../../lib/replicate/copy.ts";
import { RegistryStore } from "../../../lib/replicate/registry-store.ts";
import { fakeHarness } from "../../helpers/fake-setup.ts";
import { allBlobs, configBlob, imageIndex, imageManifest, pushImage, randomBlob, randomIndex } from "../../helpers/images.ts";

const h = fakeHarness();

describe("up-to-date re-run", () => {
  const rerun = async (seed: string, opts: Parameters<typeof copyImage>[4]) => {
    const src = await h.setup({}, { side: "source" });
    const dst = await h.setup({}, { side: "destination" });
    const image = randomIndex({ platforms: 3, attestations: true, seed });
    await pushImage(src.client.withSide("destination"), "app", "v1", image);
    const s = new RegistryStore(src.client, "app");
    const d = new RegistryStore(dst.client, "app");
    const first = await copyImage(s, "v1", d, "v1", opts);
    assert.equal(first.upToDate, false);
    src.fake.requests.length = 0;
    dst.fake.requests.length = 0;
    const again = await copyImage(s, "v1", d, "v1", opts);
    assert.equal(again.upToDate, true);
    assert.equal(again.digest, image.digest);
    assert.deepEqual(again.blobs, { copied: 0, skipped: 0, mounted: 0, foreignSkipped: 0 });
    const summary = (f: typeof src.fake) => f.requests.map((r) => `${r.method} ${r.url.replace(/sha256:[a-f0-9]{64}/, "<digest>")}`);
    return { source: summary(src.fake), destination: summary(dst.fake) };
  };

  it("makes one HEAD per side and nothing else with --referrers none", async () => {
    const r = await rerun("utd", { referrers: false });
    assert.deepEqual(r.source, ["HEAD /v2/app/manifests/v1"]);
    assert.deepEqual(r.destination, ["HEAD /v2/app/manifests/v1"]);
  });

  it("looks for referrers once per place they could be: the root (its GET by tag, no HEAD first), one referrers API probe, one tag list", async () => {
    const r = await rerun("utd-ref", {});
    assert.deepEqual(r.source, ["GET /v2/app/manifests/v1", "GET /v2/app/referrers/<digest>", "GET /v2/app/tags/list?n=1000"]);
    assert.deepEqual(r.destination, ["HEAD /v2/app/manifests/v1"]);
  });
});

describe("each digest once per destination", () => {
  it("uploads a layer shared by every platform once", async () => {
    const base = randomBlob(50_000, "shared-base");
    const platforms = [
      { os: "linux", architecture: "amd64" },
      { os: "linux", architecture: "arm64" },
      { os: "linux", architecture: "s390x" },
    ];
    const image = imageIndex({
      entries: platforms.map((platform) => ({
        platform,
        manifest: imageManifest({
          config: configBlob(platform, "oci", `shared/${platform.architecture}`, 2),
          layers: [base, randomBlob(1000, `own/${platform.architecture}`)],
        }),
      })),
    });
    const src = await h.setup({}, { side: "source" });
    const dst = await h.setup({}, { side: "destination" });
    await pushImage(src.client.withSide("destination"), "app", "v1", image);
    const r = await copyImage(new RegistryStore(src.client, "app"), "v1", new RegistryStore(dst.client, "app"), "v1", { jobs: 8 });
    const distinct = allBlobs(image).length;
    assert.equal(distinct, 7, "3 configs + 3 own layers + 1 shared base");
    assert.equal(r.blobs.copied, distinct);
    assert.equal(dst.fake.count("POST", /blobs\/uploads/), distinct, "one upload session per distinct digest");
    assert.equal(src.fake.count("GET", new RegExp(base.digest)), 1, "the shared layer is read once");
    assert.equal(
      r.bytes,
      allBlobs(image).reduce((n, b) => n + b.size, 0),
    );
    assert.equal(r.digest, image.digest);
  });
});
