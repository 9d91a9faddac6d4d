/**
 * The copy engine against real distribution registries and OCI layouts: every shape, in every
 * direction, lands with the source's digest, and skopeo agrees.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { OciLayoutStore } from "../../lib/replicate/oci-layout.ts";
import { copyImage } from "../../lib/replicate/copy.ts";
import { RegistryStore } from "../../lib/replicate/registry-store.ts";
import { RegistryPool } from "../../lib/registry/pool.ts";
import { type Distribution, startDistribution } from "../helpers/distribution.ts";
import { allManifests, pushImage, writeOciLayout } from "../helpers/images.ts";
import { shapes } from "../helpers/shapes.ts";
import { skopeoCopyToLayout, skopeoInspectRaw } from "../helpers/skopeo.ts";

let src: Distribution;
let dst: Distribution;
let pool: RegistryPool;
const dirs: string[] = [];
const tempDir = async () => {
  const d = await mkdtemp(join(tmpdir(), "ferry-layout-"));
  dirs.push(d);
  return d;
};

before(async () => {
  [src, dst] = await Promise.all([startDistribution({ foreignUrls: true }), startDistribution({ foreignUrls: true })]);
  pool = new RegistryPool({ authFile: false, retry: { baseDelayMs: 20 } });
});
after(async () => {
  await pool?.close();
  await Promise.all([src?.stop(), dst?.stop()]);
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const store = (reg: Distribution, repo: string, side: "source" | "destination") => new RegistryStore(pool.client(reg.host, side), repo);

describe("every shape, every direction", () => {
  shapes().forEach((shape, i) => {
    const repo = `shapes/s${i}`;
    it(`${shape.name}: registry → registry, registry → layout, layout → registry`, async () => {
      await pushImage(pool.client(src.host, "destination"), repo, "v1", shape.image);

      // registry → registry
      const r1 = await copyImage(store(src, repo, "source"), "v1", store(dst, repo, "destination"), "v1");
      assert.equal(r1.digest, shape.image.digest, "same digest as the source");
      assert.equal(r1.sourceDigest, shape.image.digest);
      assert.equal(r1.indexRebuilt, false);
      const raw = await skopeoInspectRaw(`${dst.host}/${repo}:v1`);
      assert.deepEqual(raw, shape.image.bytes, "skopeo reads the source's exact bytes");
      if (!shape.skopeoCannot) {
        const verify = await tempDir();
        await skopeoCopyToLayout(`${dst.host}/${repo}:v1`, join(verify, "l"));
      }
      const dstClient = pool.client(dst.host, "source");
      for (const m of allManifests(shape.image)) assert.deepEqual((await dstClient.manifestGet(repo, m.digest)).bytes, m.bytes);

      // registry → layout
      const dir = await tempDir();
      const r2 = await copyImage(store(src, repo, "source"), "v1", new OciLayoutStore(dir), "v1");
      assert.equal(r2.digest, shape.image.digest);
      const layoutRaw = await new OciLayoutStore(dir).manifestGet("v1");
      assert.deepEqual(layoutRaw.bytes, shape.image.bytes);

      // layout → registry (a fresh repository, so nothing can be skipped)
      const r3 = await copyImage(new OciLayoutStore(dir), "v1", store(dst, `${repo}-from-layout`, "destination"), "v1");
      assert.equal(r3.digest, shape.image.digest);
      assert.deepEqual(await skopeoInspectRaw(`${dst.host}/${repo}-from-layout:v1`), shape.image.bytes);
    });
  });

  it("a layout written by the test generator pushes to a registry (a locally built image)", async () => {
    const [shape] = shapes("local-build");
    assert.ok(shape);
    const dir = await tempDir();
    await writeOciLayout(dir, shape.image, "built");
    const r = await copyImage(new OciLayoutStore(dir), "built", store(dst, "local/built", "destination"), "latest");
    assert.equal(r.digest, shape.image.digest);
    assert.equal(r.addressByTag, `${dst.host}/local/built:latest`);
    assert.equal(r.addressByDigest, `${dst.host}/local/built@${shape.image.digest}`);
  });
});
