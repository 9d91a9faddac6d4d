/**
 * Known blob locations against a real distribution registry: a second copy of an image into
 * another repository of the same destination registry mounts every blob from where this process
 * put it (no HEAD, no upload, no read of the source's blobs), and a location that proves wrong is
 * forgotten, the copy uploading through the session the refused mount opened.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RegistryPool } from "../../lib/registry/pool.ts";
import { copyImage } from "../../lib/replicate/copy.ts";
import { RegistryStore } from "../../lib/replicate/registry-store.ts";
import { type Distribution, startDistribution } from "../helpers/distribution.ts";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.ts";
import { allBlobs, pushImage, randomIndex } from "../helpers/images.ts";
import { skopeoInspectRaw } from "../helpers/skopeo.ts";

let src: Distribution;
let dst: Distribution;
let srcProxy: FaultProxy;
let dstProxy: FaultProxy;
const seen: string[] = [];
const image = randomIndex({ platforms: 2, layers: 2, layerSize: 12_000, seed: `blob-locations-${Date.now()}` });
const blobs = [...new Set(allBlobs(image).map((b) => b.digest))];

before(async () => {
  [src, dst] = await Promise.all([startDistribution(), startDistribution()]);
  // No faults: the proxies only log what reaches each registry, as `METHOD path` without the query.
  const log = (side: string) => (method: string, path: string) => {
    seen.push(`${side} ${method} ${path.split("?")[0]}`);
    return false;
  };
  [srcProxy, dstProxy] = await Promise.all([startFaultProxy(src.host, { eligible: log("src") }), startFaultProxy(dst.host, { eligible: log("dst") })]);
  const pool = new RegistryPool({ authFile: false });
  await pushImage(pool.client(src.host, "destination"), "app", "v1", image);
  await pool.close();
});
after(async () => {
  await Promise.all([srcProxy?.stop(), dstProxy?.stop()]);
  await Promise.all([src?.stop(), dst?.stop()]);
});

const copyTo = (pool: RegistryPool, repo: string) =>
  copyImage(new RegistryStore(pool.client(srcProxy.host, "source"), "app"), "v1", new RegistryStore(pool.client(dstProxy.host, "destination"), repo), "v1");

describe("known blob locations", () => {
  it("a second copy into another repository mounts every blob from the first: no HEAD, no upload, no source blob read", async (t) => {
    const pool = new RegistryPool({ authFile: false });
    t.after(() => pool.close());
    const first = await copyTo(pool, "one");
    assert.equal(first.blobs.copied, blobs.length, "the first copy uploads every blob");
    seen.length = 0;
    const second = await copyTo(pool, "two");
    assert.deepEqual(second.blobs, { copied: 0, skipped: 0, mounted: blobs.length, foreignSkipped: 0 });
    assert.equal(second.digest, image.digest);
    const blobTraffic = seen.filter((r) => /\/blobs\//.test(r) && !r.startsWith("dst POST /v2/two/blobs/uploads/"));
    assert.deepEqual(blobTraffic, [], "only mount POSTs touch blobs");
    assert.equal(seen.filter((r) => r === "dst POST /v2/two/blobs/uploads/").length, blobs.length, "one mount per blob");
    assert.deepEqual(await skopeoInspectRaw(`${dst.host}/two:v1`), image.bytes, "skopeo reads the source's bytes");
    const check = pool.client(dst.host, "source");
    for (const d of blobs) assert.ok((await check.blobHead("two", d)) !== undefined, `${d} is in the second repository`);
  });

  it("a location that no longer holds the blob is forgotten; the upload goes through the session the refused mount opened", async (t) => {
    const pool = new RegistryPool({ authFile: false });
    t.after(() => pool.close());
    const locations = pool.client(dstProxy.host, "destination").blobLocations;
    for (const d of blobs) locations.note(d, "nowhere/empty");
    seen.length = 0;
    const r = await copyTo(pool, "three");
    assert.equal(r.blobs.mounted, 0);
    assert.equal(r.blobs.copied, blobs.length, "every blob uploaded");
    for (const d of blobs) assert.equal(locations.get(d), "three", "the wrong place is forgotten, the new one noted");
    // Per blob: the refused mount's POST, the HEAD, the PUT of the body into the session it opened.
    assert.equal(seen.filter((x) => x === "dst POST /v2/three/blobs/uploads/").length, blobs.length, "no second POST per blob");
    assert.equal(seen.filter((x) => x.startsWith("dst PUT /v2/three/blobs/uploads/")).length, blobs.length);
    assert.deepEqual(await skopeoInspectRaw(`${dst.host}/three:v1`), image.bytes);
  });
});
