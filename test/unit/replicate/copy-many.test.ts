/**
 * One source, many destinations, on fake registries that log every request: the source is read
 * once (each blob one GET, each manifest one GET), a second destination on the same registry
 * mounts instead of uploading, and a destination that fails is named while the others succeed.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FerryError } from "../../../lib/errors.ts";
import { copyToMany } from "../../../lib/replicate/copy.ts";
import { RegistryStore } from "../../../lib/replicate/registry-store.ts";
import { fakeHarness } from "../../helpers/fake-setup.ts";
import { allBlobs, allManifests, pushImage, randomIndex } from "../../helpers/images.ts";

const h = fakeHarness();

describe("copy to many destinations", () => {
  it("reads each blob and manifest of the source once, mounts within a registry, and names a destination that fails", async () => {
    const src = await h.setup({}, { side: "source" });
    const a = await h.setup({}, { side: "destination" });
    const b = await h.setup({}, { side: "destination" });
    const broken = await h.setup(
      {
        hook: (req, res) => {
          if (req.method === "PUT" && req.url?.includes("/manifests/")) {
            res.writeHead(403, { "content-type": "application/json" }).end(JSON.stringify({ errors: [{ code: "DENIED", message: "read-only" }] }));
            return true;
          }
          return false;
        },
      },
      { side: "destination", retry: { maxAttempts: 1 } },
    );
    const image = randomIndex({ platforms: 2, seed: "many", layers: 2, layerSize: 4096 });
    await pushImage(src.client.withSide("destination"), "app", "v1", image);
    src.fake.requests.length = 0;
    const results = await copyToMany(new RegistryStore(src.client, "app"), "v1", [
      { sink: new RegistryStore(a.client, "app"), tag: "v1" },
      { sink: new RegistryStore(a.client, "copy"), tag: "v1" },
      { sink: new RegistryStore(b.client, "app"), tag: "v1" },
      { sink: new RegistryStore(broken.client, "app"), tag: "v1" },
    ]);
    assert.deepEqual(
      results.slice(0, 3).map((r) => [r.digest, r.error]),
      Array.from({ length: 3 }, () => [image.digest, undefined]),
    );
    const failed = results[3]?.error;
    assert.ok(failed instanceof FerryError && failed.side === "destination", String(failed));
    assert.equal(results[3]?.destination, `${broken.fake.host}/app:v1`);
    for (const [c, repo] of [
      [a.client, "app"],
      [a.client, "copy"],
      [b.client, "app"],
    ] as const)
      assert.equal((await c.manifestHead(repo, "v1"))?.digest, image.digest);

    const gets = src.fake.requests.filter((r) => r.method === "GET").map((r) => r.url);
    const blobGets = gets.filter((u) => u.includes("/blobs/"));
    assert.equal(blobGets.length, allBlobs(image).length, "each blob read from the source once");
    assert.equal(new Set(blobGets).size, blobGets.length);
    const manifestGets = gets.filter((u) => /\/manifests\//.test(u)); // the root by its tag, the others by digest
    assert.equal(manifestGets.length, allManifests(image).length, "each manifest read once");
    assert.equal(results[1]?.blobs.mounted, allBlobs(image).length, "the second repository of a registry mounts");
    assert.equal(results[1]?.blobs.copied, 0);
    assert.ok(a.fake.requests.some((r) => r.url.includes("mount=") && r.url.includes("from=app")));
  });
});
