/**
 * `copyImage` with a Docker schema 1 source, against fake registries that speak the protocol: one
 * that takes schema 1, one that refuses it as distribution 2.8 does by default (500 UNKNOWN with an
 * empty detail). Pushed verbatim where it is taken; converted where refused (once, no retries) or
 * when asked; the converted config's diff_ids are the sha256 of each layer gunzipped.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import { DOCKER_MANIFEST, DOCKER_SCHEMA1 } from "../../../lib/oci/media-types.ts";
import { EMPTY_LAYER_GZIP } from "../../../lib/oci/schema1-convert.ts";
import { copyImage } from "../../../lib/replicate/copy.ts";
import { OciLayoutStore } from "../../../lib/replicate/oci-layout.ts";
import { RegistryStore } from "../../../lib/replicate/registry-store.ts";
import { send } from "../../fakes/registry.ts";
import { rejectsWithCode } from "../../helpers/assert.ts";
import { fakeHarness } from "../../helpers/fake-setup.ts";
import { GZIPPED_EMPTY_LAYER, schema1PayloadOf } from "../../helpers/schema1.ts";

const h = fakeHarness();
const sha256 = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const SCHEMA1_PUT = /\/manifests\//;

const base = gzipSync(Buffer.from("base layer ".repeat(500)));
const middle = gzipSync(Buffer.from("middle layer ".repeat(300)));
const v1 = (n: number, extra: Record<string, unknown> = {}) => ({ id: String(n).repeat(64), ...(n > 1 ? { parent: String(n - 1).repeat(64) } : {}), ...extra });

/** A source holding an unsigned schema 1 image (newest first): base, middle, a throwaway entry, base again. */
async function schema1Source(layers: Buffer[] = [base, middle]) {
  const src = await h.setup({}, { side: "source" });
  for (const b of [...layers, GZIPPED_EMPTY_LAYER]) src.fake.putBlob("app", b);
  const [l1, l2] = layers.map(sha256) as [string, string];
  const bytes = schema1PayloadOf({
    name: "app",
    tag: "v1",
    layers: [
      { blobSum: l1, v1Compatibility: v1(4, { os: "linux", architecture: "amd64", config: { Env: ["A=1"] }, created: "2020-01-04T00:00:00Z" }) },
      { blobSum: EMPTY_LAYER_GZIP, v1Compatibility: v1(3, { throwaway: true, container_config: { Cmd: ["/bin/sh", "-c", "#(nop) ENV A=1"] } }) },
      { blobSum: l2, v1Compatibility: v1(2) },
      { blobSum: l1, v1Compatibility: v1(1) },
    ],
  });
  const digest = src.fake.putManifest("app", "v1", bytes, DOCKER_SCHEMA1);
  return { src, store: new RegistryStore(src.client, "app"), digest, layers: [l1, l2, l1] };
}

/** A destination that refuses schema 1 PUTs as distribution 2.8 does by default. */
function refusesSchema1() {
  return {
    hook: (req: { method?: string; url?: string; headers: Record<string, unknown> }, res: Parameters<typeof send>[0]) => {
      if (req.method !== "PUT" || !SCHEMA1_PUT.test(req.url ?? "") || !String(req.headers["content-type"]).includes("manifest.v1+")) return false;
      send(res, 500, { errors: [{ code: "UNKNOWN", message: "unknown error", detail: {} }] });
      return true;
    },
  };
}

/** The config and layers a destination holds under `ref`, checked against what they must be. */
function assertConverted(
  dst: { fake: { manifests: Map<string, Map<string, { bytes: Buffer; mediaType: string }>>; blobs: Map<string, Buffer> } },
  ref: string,
  layers: string[],
) {
  const m = dst.fake.manifests.get("app")?.get(ref);
  assert.ok(m, `${ref} at the destination`);
  assert.equal(m.mediaType, DOCKER_MANIFEST);
  const manifest = JSON.parse(m.bytes.toString()) as { config: { digest: string }; layers: Array<{ digest: string; size: number }> };
  assert.deepEqual(
    manifest.layers.map((l) => l.digest),
    layers,
    "oldest first, the throwaway entry out, the repeated blob at both positions",
  );
  const configBytes = dst.fake.blobs.get(manifest.config.digest);
  assert.ok(configBytes, "the synthesised config was pushed");
  const config = JSON.parse(configBytes.toString()) as {
    rootfs: { diff_ids: string[] };
    history: Array<{ empty_layer?: boolean; created_by?: string }>;
    config: unknown;
  };
  for (const [i, l] of manifest.layers.entries()) {
    const gz = dst.fake.blobs.get(l.digest) as Buffer;
    assert.equal(l.size, gz.byteLength);
    assert.equal(config.rootfs.diff_ids[i], sha256(gunzipSync(gz)), `diff_id ${i}`);
  }
  assert.deepEqual(
    config.history.map((x) => x.empty_layer === true),
    [false, false, true, false],
  );
  assert.equal(config.history[2]?.created_by, "/bin/sh -c #(nop) ENV A=1");
  assert.deepEqual(config.config, { Env: ["A=1"] });
  return sha256(m.bytes);
}

describe("copying a schema 1 image", () => {
  it("a destination that takes schema 1 gets it verbatim (layers first); a second run is up to date", async () => {
    const s = await schema1Source();
    const dst = await h.setup({}, { side: "destination" });
    const r = await copyImage(s.store, "v1", new RegistryStore(dst.client, "app"), "v1");
    assert.equal(r.converted, undefined);
    assert.equal(r.digest, s.digest);
    assert.equal(r.mediaType, DOCKER_SCHEMA1);
    assert.deepEqual(r.platforms, ["linux/amd64"]);
    assert.deepEqual(dst.fake.manifests.get("app")?.get("v1")?.bytes, s.src.fake.manifests.get("app")?.get("v1")?.bytes);
    for (const d of [...s.layers, EMPTY_LAYER_GZIP]) assert.ok(dst.fake.blobs.has(d), `${d} copied, the empty layer too`);
    const again = await copyImage(s.store, "v1", new RegistryStore(dst.client, "app"), "v1");
    assert.equal(again.upToDate, true);
  });

  it("a destination that refuses schema 1 (500 UNKNOWN, asked once) gets the image converted to schema 2, with warnings", async () => {
    const s = await schema1Source();
    const dst = await h.setup(refusesSchema1(), { side: "destination" });
    const r = await copyImage(s.store, "v1", new RegistryStore(dst.client, "app"), "v1");
    assert.equal(r.converted, "schema1");
    assert.equal(r.mediaType, DOCKER_MANIFEST);
    assert.equal(r.sourceDigest, s.digest);
    assert.notEqual(r.digest, s.digest);
    assert.equal(r.indexRebuilt, false);
    assert.equal(r.warnings.length, 2, r.warnings.join("\n"));
    const schema1Puts = dst.fake.requests.filter((x) => x.method === "PUT" && SCHEMA1_PUT.test(x.url) && x.headers["content-type"]?.includes("v1+json"));
    assert.equal(schema1Puts.length, 1, "the refusal is not retried");
    assert.equal(assertConverted(dst, "v1", s.layers), r.digest);
  });

  it("with convertSchema1 the image is converted without a schema 1 PUT; each distinct layer is read once for its diff_id", async () => {
    const s = await schema1Source();
    const dst = await h.setup({}, { side: "destination" });
    const r = await copyImage(s.store, "v1", new RegistryStore(dst.client, "app"), "v1", { convertSchema1: true });
    assert.equal(r.converted, "schema1");
    assert.equal(dst.fake.count("PUT", /\/manifests\//), 1, "only the schema 2 manifest");
    assert.equal(assertConverted(dst, "v1", s.layers), r.digest);
    const [l1] = s.layers as [string];
    assert.equal(s.src.fake.count("GET", new RegExp(`/blobs/${l1}`)), 2, "the repeated blob: once hashed, once copied");
    const dry = await copyImage(s.store, "v1", new RegistryStore(dst.client, "other"), "v1", { convertSchema1: true, dryRun: true });
    assert.equal(dry.digest, r.digest, "a dry run names the digest the conversion gives");
    assert.equal(dst.fake.manifests.get("other"), undefined, "and writes nothing");
  });

  it("into an OCI layout (which holds no schema 1) the image is converted", async () => {
    const { store } = await schema1Source();
    const dir = await mkdtemp(join(tmpdir(), "ferry-schema1-layout-"));
    try {
      const r = await copyImage(store, "v1", new OciLayoutStore(dir), "v1");
      assert.equal(r.converted, "schema1");
      assert.equal(r.mediaType, DOCKER_MANIFEST);
      assert.equal((await new OciLayoutStore(dir).manifestHead("v1"))?.digest, r.digest);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a layer that is not gzip cannot be converted: UNSUPPORTED at the source; a platform it lacks: PLATFORM_MISMATCH", async () => {
    const s = await schema1Source([Buffer.from("plain tar, not gzip"), middle]);
    const dst = await h.setup({}, { side: "destination" });
    await rejectsWithCode(copyImage(s.store, "v1", new RegistryStore(dst.client, "app"), "v1", { convertSchema1: true }), "UNSUPPORTED", (e) =>
      assert.equal(e.side, "source"),
    );
    await rejectsWithCode(
      copyImage(s.store, "v1", new RegistryStore(dst.client, "app"), "v1", { platforms: [{ os: "linux", architecture: "arm64" }] }),
      "PLATFORM_MISMATCH",
    );
  });
});
