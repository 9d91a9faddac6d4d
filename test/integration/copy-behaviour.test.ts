/**
 * Copy-engine behaviour against real distribution registries: mounts, platform filter, merge,
 * a corrupt source, an interrupted copy and its re-run, dry runs.
 */
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseManifest } from "../../lib/oci/manifest.ts";
import { formatPlatform, parsePlatform } from "../../lib/oci/platform.ts";
import { copyImage } from "../../lib/replicate/copy.ts";
import type { CopyEvent } from "../../lib/replicate/copy-session.ts";
import { RegistryStore } from "../../lib/replicate/registry-store.ts";
import { RegistryPool } from "../../lib/registry/pool.ts";
import { rejectsWithCode } from "../helpers/assert.ts";
import { type Distribution, startDistribution } from "../helpers/distribution.ts";
import { allBlobs, pushImage, randomImage, randomIndex } from "../helpers/images.ts";
import { skopeoInspectRaw } from "../helpers/skopeo.ts";

let src: Distribution;
let dst: Distribution;
let pool: RegistryPool;
before(async () => {
  [src, dst] = await Promise.all([startDistribution(), startDistribution()]);
  pool = new RegistryPool({ authFile: false, retry: { baseDelayMs: 20 } });
});
after(async () => {
  await pool?.close();
  await Promise.all([src?.stop(), dst?.stop()]);
});
const store = (reg: Distribution, repo: string, side: "source" | "destination") => new RegistryStore(pool.client(reg.host, side), repo);
const seed = (reg: Distribution, repo: string, tag: string, image: ReturnType<typeof randomIndex>) =>
  pushImage(pool.client(reg.host, "destination"), repo, tag, image);
const platformsAt = async (reg: Distribution, repo: string, tag: string) => {
  const m = parseManifest(await skopeoInspectRaw(`${reg.host}/${repo}:${tag}`)).manifest;
  return m.kind === "index" ? m.manifests.map((d) => formatPlatform(d.platform)) : [];
};

describe("same registry", () => {
  it("mounts blobs across repositories instead of copying them", async () => {
    const image = randomIndex({ platforms: 2, seed: "mount" });
    await seed(src, "team/a", "v1", image);
    const r = await copyImage(store(src, "team/a", "source"), "v1", store(src, "team/b", "destination"), "v1");
    assert.equal(r.blobs.mounted, allBlobs(image).length);
    assert.equal(r.blobs.copied, 0);
    assert.equal(r.bytes, 0);
    assert.equal(r.digest, image.digest);
  });
});

describe("platform filter", () => {
  it("pushes exactly the documented index: the wanted platforms and their attestations", async () => {
    const image = randomIndex({ platforms: 4, attestations: true, seed: "filter" });
    await seed(src, "filter/app", "v1", image);
    const r = await copyImage(store(src, "filter/app", "source"), "v1", store(dst, "filter/app", "destination"), "v1", {
      platforms: [parsePlatform("linux/amd64"), parsePlatform("linux/arm64")],
    });
    assert.equal(r.indexRebuilt, true);
    assert.notEqual(r.digest, image.digest, "the result says the digest changed");
    assert.equal(r.sourceDigest, image.digest);
    assert.deepEqual(r.platforms, ["linux/amd64", "linux/arm64/v8"]);
    assert.deepEqual(await platformsAt(dst, "filter/app", "v1"), ["linux/amd64", "linux/arm64/v8", "unknown/unknown", "unknown/unknown"]);
    const pushed = await skopeoInspectRaw(`${dst.host}/filter/app:v1`);
    assert.equal(parseManifest(pushed).digest, r.digest);
    // the filtered-out platforms were not copied
    const arm = parseManifest(image.bytes).manifest;
    assert.ok(arm.kind === "index");
    const s390 = arm.manifests.find((d) => d.platform?.architecture === "s390x");
    assert.equal(await pool.client(dst.host, "source").manifestHead("filter/app", s390?.digest ?? ""), undefined);
    // re-running the same filter is up to date
    const again = await copyImage(store(src, "filter/app", "source"), "v1", store(dst, "filter/app", "destination"), "v1", {
      platforms: [parsePlatform("linux/amd64"), parsePlatform("linux/arm64")],
    });
    assert.equal(again.upToDate, true);
  });

  it("a single-platform source that does not match is a clear error, and nothing is pushed", async () => {
    await seed(src, "filter/single", "v1", randomImage({ platform: { os: "linux", architecture: "arm64" }, seed: "fs" }));
    await rejectsWithCode(
      copyImage(store(src, "filter/single", "source"), "v1", store(dst, "filter/single", "destination"), "v1", { platforms: [parsePlatform("linux/amd64")] }),
      "PLATFORM_MISMATCH",
      (e) => assert.equal(e.side, "source"),
    );
    assert.equal(await pool.client(dst.host, "source").manifestHead("filter/single", "v1"), undefined);
  });
});

describe("merge with the destination", () => {
  it("keeps the destination's extra platforms; copies verbatim when it has none; replaces a single manifest with a warning", async () => {
    const old = randomIndex({ platforms: 4, seed: "merge-old" }); // amd64, arm64, arm, s390x
    const fresh = randomIndex({ platforms: 2, seed: "merge-new" }); // amd64, arm64
    await seed(dst, "merge/app", "v1", old);
    await seed(src, "merge/app", "v1", fresh);
    const r = await copyImage(store(src, "merge/app", "source"), "v1", store(dst, "merge/app", "destination"), "v1", { merge: true });
    assert.equal(r.indexRebuilt, true);
    assert.deepEqual(r.platforms, ["linux/amd64", "linux/arm64/v8", "linux/arm/v7", "linux/s390x"]);
    assert.deepEqual(await platformsAt(dst, "merge/app", "v1"), ["linux/amd64", "linux/arm64/v8", "linux/arm/v7", "linux/s390x"]);
    const got = parseManifest(await skopeoInspectRaw(`${dst.host}/merge/app:v1`)).manifest;
    const newM = parseManifest(fresh.bytes).manifest;
    const oldM = parseManifest(old.bytes).manifest;
    assert.ok(got.kind === "index" && newM.kind === "index" && oldM.kind === "index");
    assert.deepEqual(got.manifests.slice(0, 2), newM.manifests, "source entries, new digests");
    assert.deepEqual(got.manifests.slice(2), oldM.manifests.slice(2), "the destination's arm and s390x kept");

    // destination lacks nothing → verbatim
    await seed(dst, "merge/sub", "v1", randomIndex({ platforms: 1, seed: "merge-sub" }));
    await seed(src, "merge/sub", "v1", fresh);
    const v = await copyImage(store(src, "merge/sub", "source"), "v1", store(dst, "merge/sub", "destination"), "v1", { merge: true });
    assert.equal(v.indexRebuilt, false);
    assert.equal(v.digest, fresh.digest);

    // destination holds a single manifest → replaced, with a warning
    await seed(dst, "merge/single", "v1", randomImage({ seed: "single-old" }));
    await seed(src, "merge/single", "v1", fresh);
    const w = await copyImage(store(src, "merge/single", "source"), "v1", store(dst, "merge/single", "destination"), "v1", { merge: true });
    assert.equal(w.digest, fresh.digest);
    assert.equal(w.warnings.length, 1);
    assert.match(w.warnings[0] ?? "", /replaced/);
  });
});

describe("failure and recovery", () => {
  it("a corrupt blob at the source fails the copy with DIGEST_MISMATCH and the destination never gets the manifest", async () => {
    const image = randomIndex({ platforms: 2, layers: 2, layerSize: 200_000, seed: "corrupt" });
    await seed(src, "corrupt/app", "v1", image);
    // Flip a byte in one layer inside the registry's own storage: it serves files as stored.
    const victim = allBlobs(image).find((b) => b.size === 200_000);
    assert.ok(victim);
    const file = join(src.dir, "data/docker/registry/v2/blobs/sha256", victim.digest.slice(7, 9), victim.digest.slice(7), "data");
    const bytes = await readFile(file);
    bytes[1000] = (bytes[1000] ?? 0) ^ 0xff;
    await writeFile(file, bytes);
    await rejectsWithCode(copyImage(store(src, "corrupt/app", "source"), "v1", store(dst, "corrupt/app", "destination"), "v1"), "DIGEST_MISMATCH", (e) =>
      assert.equal(e.side, "source"),
    );
    const d = pool.client(dst.host, "source");
    assert.equal(await d.manifestHead("corrupt/app", "v1"), undefined, "no tag");
    assert.equal(await d.blobHead("corrupt/app", victim.digest), undefined, "the corrupt blob was not committed");
  });

  it("an interrupted copy leaves no tag; re-running completes it and skips what landed", async () => {
    const image = randomIndex({ platforms: 3, layers: 3, layerSize: 300_000, seed: "interrupt" });
    await seed(src, "int/app", "v1", image);
    const ac = new AbortController();
    let copied = 0;
    const onEvent = (e: CopyEvent) => {
      if (e.type === "blob" && e.action === "copied" && ++copied === 4) ac.abort();
    };
    await rejectsWithCode(
      copyImage(store(src, "int/app", "source"), "v1", store(dst, "int/app", "destination"), "v1", { signal: ac.signal, onEvent, jobs: 2 }),
      "ABORTED",
    );
    assert.equal(await pool.client(dst.host, "source").manifestHead("int/app", "v1"), undefined, "no tag on incomplete content");
    const r = await copyImage(store(src, "int/app", "source"), "v1", store(dst, "int/app", "destination"), "v1");
    assert.equal(r.digest, image.digest);
    assert.ok(r.blobs.skipped >= 4, `skipped ${r.blobs.skipped}`);
    assert.equal(r.blobs.copied + r.blobs.skipped, allBlobs(image).length);
    assert.deepEqual(await skopeoInspectRaw(`${dst.host}/int/app:v1`), image.bytes);
  });

  it("a dry run plans without writing", async () => {
    const image = randomIndex({ platforms: 2, seed: "dry" });
    await seed(src, "dry/app", "v1", image);
    const events: CopyEvent[] = [];
    const r = await copyImage(store(src, "dry/app", "source"), "v1", store(dst, "dry/app", "destination"), "v1", {
      dryRun: true,
      onEvent: (e) => events.push(e),
    });
    assert.equal(r.dryRun, true);
    assert.equal(events.filter((e) => e.type === "blob" && e.action === "would-copy").length, allBlobs(image).length);
    assert.equal(events.filter((e) => e.type === "manifest" && e.action === "would-push").length, 3);
    assert.equal(await pool.client(dst.host, "source").manifestHead("dry/app", "v1"), undefined);
    const repos = await readdir(join(dst.dir, "data/docker/registry/v2/repositories")).catch(() => [] as string[]);
    assert.ok(!repos.includes("dry"), "nothing written");
  });
});
