/**
 * Known blob locations against a real distribution registry: a second copy of an image into
 * another repository of the same destination registry mounts every blob from where this process
 * put it (no HEAD, no upload, no read of the source's blobs); a copy from another source does
 * not; a repository known to hold the blob gets a HEAD, not a mount; a place that proves wrong is
 * forgotten and the session its refused mount opened is used or cancelled; and a mount that
 * fails outright leaves the copy to HEAD and upload.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { REFUSALS_TO_PAUSE } from "../../lib/registry/blob-locations.ts";
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
  await pushImage(pool.client(src.host, "destination"), "other", "v1", image); // the same blobs under another source repository
  await pool.close();
});
after(async () => {
  await Promise.all([srcProxy?.stop(), dstProxy?.stop()]);
  await Promise.all([src?.stop(), dst?.stop()]);
});

const newPool = () => new RegistryPool({ authFile: false, retry: { baseDelayMs: 10 } });
const copyTo = (pool: RegistryPool, repo: string, opts: { from?: string; dstHost?: string; tag?: string } = {}) =>
  copyImage(
    new RegistryStore(pool.client(srcProxy.host, "source"), opts.from ?? "app"),
    "v1",
    new RegistryStore(pool.client(opts.dstHost ?? dstProxy.host, "destination"), repo),
    opts.tag ?? "v1",
  );
const count = (line: string) => seen.filter((x) => x === line).length;

describe("known blob locations", () => {
  it("a second copy into another repository mounts every blob from the first: no HEAD, no upload, no source blob read", async (t) => {
    const pool = newPool();
    t.after(() => pool.close());
    const first = await copyTo(pool, "one");
    assert.equal(first.blobs.copied, blobs.length, "the first copy uploads every blob");
    seen.length = 0;
    const second = await copyTo(pool, "two");
    assert.deepEqual(second.blobs, { copied: 0, skipped: 0, mounted: blobs.length, foreignSkipped: 0 });
    assert.equal(second.digest, image.digest);
    const blobTraffic = seen.filter((r) => /\/blobs\//.test(r) && r !== "dst POST /v2/two/blobs/uploads/");
    assert.deepEqual(blobTraffic, [], "only mount POSTs touch blobs");
    assert.equal(count("dst POST /v2/two/blobs/uploads/"), blobs.length, "one mount per blob");
    assert.deepEqual(await skopeoInspectRaw(`${dst.host}/two:v1`), image.bytes, "skopeo reads the source's bytes");
    const check = pool.client(dst.host, "source");
    for (const d of blobs) assert.ok((await check.blobHead("two", d)) !== undefined, `${d} is in the second repository`);
  });

  it("a copy from another source repository does not mount what the first source served: it reads its own source", async (t) => {
    const pool = newPool();
    t.after(() => pool.close());
    await copyTo(pool, "five");
    seen.length = 0;
    const r = await copyTo(pool, "six", { from: "other" });
    assert.equal(r.blobs.mounted, 0, "a manifest naming a digest proves nothing about its own source");
    assert.equal(r.blobs.copied, blobs.length);
    assert.equal(seen.filter((x) => x.startsWith("src GET /v2/other/blobs/")).length, blobs.length, "every blob read from its own source");
  });

  it("a place that no longer holds the blob is forgotten; the upload goes through the session the refused mount opened", async (t) => {
    const pool = newPool();
    t.after(() => pool.close());
    const locations = pool.client(dstProxy.host, "destination").blobLocations;
    const source = `${srcProxy.host}/app`;
    // Fewer wrong places than it takes to pause mounts (REFUSALS_TO_PAUSE).
    const wrong = blobs.slice(0, REFUSALS_TO_PAUSE - 1);
    for (const d of wrong) locations.note(d, "nowhere/empty", source);
    seen.length = 0;
    const r = await copyTo(pool, "three");
    assert.equal(r.blobs.mounted, 0);
    assert.equal(r.blobs.copied, blobs.length, "every blob uploaded");
    for (const d of blobs) assert.equal(locations.mountSource(d, "elsewhere", source), "three", "the wrong place is forgotten, the new one noted");
    // Per blob: one POST (a refused mount's, or the upload's), the HEAD, the PUT of the body into that session.
    assert.equal(count("dst POST /v2/three/blobs/uploads/"), blobs.length, "no second POST per blob");
    assert.equal(seen.filter((x) => x.startsWith("dst PUT /v2/three/blobs/uploads/")).length, blobs.length);
    assert.deepEqual(await skopeoInspectRaw(`${dst.host}/three:v1`), image.bytes);

    // Blobs already in the target repository, and a process that knows only a wrong place for
    // them: each refused mount's session is cancelled once the HEAD finds the blob.
    const later = newPool();
    t.after(() => later.close());
    for (const spec of allBlobs(image).filter((b) => wrong.includes(b.digest))) {
      await later.client(dst.host, "destination").blobPut("eight", spec, async () => spec.open());
    }
    for (const d of wrong) later.client(dstProxy.host, "destination").blobLocations.note(d, "nowhere/empty", source);
    seen.length = 0;
    const r2 = await copyTo(later, "eight");
    assert.equal(r2.blobs.copied, blobs.length - wrong.length);
    assert.equal(r2.blobs.skipped, wrong.length);
    assert.equal(seen.filter((x) => x.startsWith("dst DELETE /v2/eight/blobs/uploads/")).length, wrong.length, "each unused session cancelled");
  });

  it("a known mount that fails outright (503 after retries) leaves the copy to HEAD and upload", async (t) => {
    const failing = await startFaultProxy(dst.host, {
      rates: { "503": 1 },
      afterShare: 0,
      eligible: (method, path) => method === "POST" && path.includes("mount="),
    });
    t.after(() => failing.stop());
    const pool = newPool();
    t.after(() => pool.close());
    const locations = pool.client(failing.host, "destination").blobLocations;
    const failed = blobs.slice(0, REFUSALS_TO_PAUSE - 1);
    for (const d of failed) locations.note(d, "one", `${srcProxy.host}/app`);
    const r = await copyTo(pool, "seven", { dstHost: failing.host });
    assert.equal(r.blobs.copied, blobs.length);
    assert.equal(r.blobs.mounted, 0);
    assert.ok(failing.faults()["503"] >= failed.length, "every mount was answered 503");
    assert.deepEqual(await skopeoInspectRaw(`${dst.host}/seven:v1`), image.bytes);
  });
});
