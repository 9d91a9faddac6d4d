/**
 * Docker schema 1 with the real tools: skopeo turns an image of ours (real tar layers: a file
 * overwritten twice, one deleted by a whiteout, an empty layer) into schema 1 in a distribution 2.8
 * registry that takes schema 1. ferry names it by one digest, the registry's, although the registry
 * signs it anew on every GET; copies it verbatim where schema 1 is taken, converts it where it is
 * refused (distribution's default) or when asked; and the converted image, pulled by skopeo and
 * unpacked with GNU tar layer by layer, has the original's files, the top layer winning.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gunzipSync, gzipSync } from "node:zlib";
import { DOCKER_MANIFEST, DOCKER_SCHEMA1_SIGNED, MANIFEST_ACCEPT, OCI_CONFIG, OCI_LAYER_GZIP } from "../../lib/oci/media-types.ts";
import { RegistryPool } from "../../lib/registry/pool.ts";
import { copyImage } from "../../lib/replicate/copy.ts";
import { RegistryStore } from "../../lib/replicate/registry-store.ts";
import { type Distribution, startDistribution } from "../helpers/distribution.ts";
import { bytesBlob, imageManifest, writeOciLayout } from "../helpers/images.ts";
import { schema1PayloadOf, signSchema1 } from "../helpers/schema1.ts";
import { skopeoCopyToLayout, skopeoInspectRaw } from "../helpers/skopeo.ts";

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../../bin/ferry.js", import.meta.url));
const sha256 = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** The image's layers, oldest first: files to write (empty string: a whiteout marker). */
const LAYERS: Array<Record<string, string>> = [
  { "a.txt": "a from layer 1\n", "b.txt": "b from layer 1\n", "dir/c.txt": "c from layer 1\n", "keep.txt": "kept\n" },
  { "a.txt": "a from layer 2\n", ".wh.b.txt": "", "dir/d.txt": "d from layer 2\n" },
  { "a.txt": "a from layer 3\n", "dir/.wh.c.txt": "", "e.txt": "e from layer 3\n" },
];
/** What the layers give, applied in order. */
const EXPECTED = { "a.txt": "a from layer 3\n", "keep.txt": "kept\n", "dir/d.txt": "d from layer 2\n", "e.txt": "e from layer 3\n" };

let s1: Distribution; // schema 1 taken: the source, and a destination that takes it
let plain: Distribution; // distribution's default: schema 1 refused
let pool: RegistryPool;
let tmp: string;
let layerBlobs: Buffer[];

const store = (reg: Distribution, repo: string, side: "source" | "destination") => new RegistryStore(pool.client(reg.host, side), repo);

/** A gzipped tar of `files`, written by GNU tar. */
async function tarLayer(files: Record<string, string>, dir: string): Promise<Buffer> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  const top = await readdir(dir);
  const { stdout } = await run("tar", ["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "-C", dir, "-cf", "-", ...top.sort()], {
    encoding: "buffer",
    maxBuffer: 1 << 24,
  });
  return gzipSync(stdout);
}

/** Applies gzipped tar layers in order as a container runtime does: whiteouts delete what is below. */
async function unpack(layers: string[], root: string): Promise<Record<string, string>> {
  await mkdir(root, { recursive: true });
  for (const layer of layers) {
    const { stdout } = await run("tar", ["-tzf", layer]);
    for (const entry of stdout.split("\n").filter(Boolean)) {
      const name = entry.replace(/\/$/, "").split("/");
      const base = name.pop() as string;
      if (base === ".wh..wh..opq") {
        for (const child of await readdir(join(root, ...name)).catch(() => [])) await rm(join(root, ...name, child), { recursive: true, force: true });
      } else if (base.startsWith(".wh.")) await rm(join(root, ...name, base.slice(4)), { recursive: true, force: true });
    }
    await run("tar", ["-xzf", layer, "-C", root, "--exclude=.wh.*"]);
  }
  const files: Record<string, string> = {};
  const walk = async (d: string) => {
    for (const n of await readdir(d)) {
      const p = join(d, n);
      if ((await stat(p)).isDirectory()) await walk(p);
      else files[relative(root, p)] = await readFile(p, "utf8");
    }
  };
  await walk(root);
  return files;
}

/** Pulls `ref` with skopeo into a dir: layout; its manifest, config, and layer files in order. */
async function pull(ref: string) {
  const dir = await mkdtemp(join(tmp, "pull-"));
  await skopeoCopyToLayout(ref, dir);
  const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8"));
  const file = (digest: string) => join(dir, digest.slice("sha256:".length));
  const config = JSON.parse(await readFile(file(manifest.config.digest), "utf8"));
  return { manifest, config, layers: (manifest.layers as Array<{ digest: string }>).map((l) => file(l.digest)) };
}

/** The registry's own answer for a manifest: Docker-Content-Digest of a HEAD. */
async function servedDigest(reg: Distribution, repo: string, ref: string): Promise<string> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, { method: "HEAD", headers: { accept: MANIFEST_ACCEPT.join(", ") } });
  assert.equal(res.status, 200);
  return res.headers.get("docker-content-digest") as string;
}

function ferry(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, HOME: tmp, DOCKER_CONFIG: join(tmp, "docker") } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The converted image at `ref`, pulled by skopeo, against the original. */
async function assertSameImage(ref: string) {
  const p = await pull(ref);
  assert.equal(p.manifest.mediaType, DOCKER_MANIFEST);
  assert.equal(p.layers.length, LAYERS.length, "the empty layer is in the history, not the layers");
  const bytes = await Promise.all(p.layers.map((l) => readFile(l)));
  assert.deepEqual(bytes, layerBlobs, "the original layers, oldest first");
  assert.deepEqual(
    p.config.rootfs.diff_ids,
    bytes.map((b) => sha256(gunzipSync(b))),
    "diff_ids are the uncompressed layers' digests",
  );
  assert.deepEqual(
    p.config.history.map((h: { empty_layer?: boolean }) => h.empty_layer === true),
    [false, false, true, false],
  );
  assert.equal(p.config.history[2].created_by, "ENV MODE=test");
  assert.deepEqual(p.config.config.Env, ["MODE=test"]);
  assert.equal(p.config.os, "linux");
  assert.equal(p.config.architecture, "amd64");
  assert.deepEqual(await unpack(p.layers, await mkdtemp(join(tmp, "root-"))), EXPECTED, "the top layer wins; whiteouts delete");
}

before(async () => {
  [s1, plain] = await Promise.all([startDistribution({ schema1: true }), startDistribution()]);
  pool = new RegistryPool({ authFile: false, retry: { baseDelayMs: 20 } });
  tmp = await mkdtemp(join(tmpdir(), "ferry-schema1-"));
  layerBlobs = [];
  for (const [i, files] of LAYERS.entries()) layerBlobs.push(await tarLayer(files, join(tmp, `layer${i}`)));
  const created = "2024-01-01T00:00:00Z";
  const config = {
    architecture: "amd64",
    os: "linux",
    created,
    config: { Env: ["MODE=test"], Cmd: ["/bin/sh"] },
    rootfs: { type: "layers", diff_ids: layerBlobs.map((b) => sha256(gunzipSync(b))) },
    history: [
      { created, created_by: "ADD base" },
      { created, created_by: "RUN change" },
      { created, created_by: "ENV MODE=test", empty_layer: true },
      { created, created_by: "RUN more" },
    ],
  };
  const image = imageManifest({
    format: "oci",
    config: bytesBlob(Buffer.from(JSON.stringify(config)), OCI_CONFIG),
    layers: layerBlobs.map((b) => bytesBlob(b, OCI_LAYER_GZIP)),
  });
  const layout = join(tmp, "original");
  await writeOciLayout(layout, image, "v1");
  // The original, as a runtime would unpack it: the reference for every converted copy.
  assert.deepEqual(
    await unpack(
      layerBlobs.map((_, i) => join(layout, "blobs", "sha256", sha256(layerBlobs[i] as Buffer).slice(7))),
      join(tmp, "root-original"),
    ),
    EXPECTED,
  );
  await run("skopeo", ["copy", "--quiet", "--format", "v2s1", "--dest-tls-verify=false", `oci:${layout}:v1`, `docker://${s1.host}/src/app:v1`], {
    env: { ...process.env, HOME: tmp },
  });
});
after(async () => {
  await pool?.close();
  await Promise.all([s1?.stop(), plain?.stop()]);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("Docker schema 1 against distribution 2.8", () => {
  it("the source is schema 1, signed anew on every GET; ferry inspect prints one digest, the registry's", async () => {
    const [one, two] = [await skopeoInspectRaw(`${s1.host}/src/app:v1`), await skopeoInspectRaw(`${s1.host}/src/app:v1`)];
    assert.equal(JSON.parse(one.toString()).schemaVersion, 1);
    assert.notDeepEqual(one, two, "the registry signs on every GET");
    const served = await servedDigest(s1, "src/app", "v1");
    const digests: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await ferry(["inspect", "--json", "--referrers", "none", `${s1.host}/src/app:v1`]);
      assert.equal(r.code, 0, r.stderr);
      const tree = JSON.parse(r.stdout);
      assert.equal(tree.mediaType, DOCKER_SCHEMA1_SIGNED);
      digests.push(tree.digest);
    }
    assert.deepEqual(digests, [served, served]);
    const byDigest = await ferry(["inspect", "--json", "--referrers", "none", `${s1.host}/src/app@${served}`]);
    assert.equal(byDigest.code, 0, `fetched by that digest and verified: ${byDigest.stderr}`);
  });

  it("a pretty-printed manifest signed as Docker did: distribution takes it under the digest ferry computes", async () => {
    const client = pool.client(s1.host, "destination");
    const layer = layerBlobs[0] as Buffer;
    await client.blobPut("pretty/app", bytesBlob(layer, OCI_LAYER_GZIP), async () => bytesBlob(layer, OCI_LAYER_GZIP).open());
    const payload = schema1PayloadOf({
      name: "pretty/app",
      tag: "v1",
      layers: [{ blobSum: sha256(layer), v1Compatibility: { id: "1".repeat(64), os: "linux" } }],
    });
    // manifestPut fails with DIGEST_MISMATCH unless the registry's Docker-Content-Digest is ours.
    const digest = await client.manifestPut("pretty/app", "v1", signSchema1(payload, { keys: 2 }), DOCKER_SCHEMA1_SIGNED);
    assert.equal(digest, sha256(payload));
    assert.equal(await servedDigest(s1, "pretty/app", "v1"), digest);
  });

  it("into a registry that refuses schema 1 (distribution's default): converted, the files and diff_ids intact", async () => {
    const r = await copyImage(store(s1, "src/app", "source"), "v1", store(plain, "auto/app", "destination"), "v1");
    assert.equal(r.converted, "schema1");
    assert.equal(r.mediaType, DOCKER_MANIFEST);
    assert.equal(r.sourceDigest, await servedDigest(s1, "src/app", "v1"));
    assert.equal(await servedDigest(plain, "auto/app", "v1"), r.digest);
    assert.ok(
      r.warnings.some((w) => w.includes(r.digest)),
      r.warnings.join("\n"),
    );
    await assertSameImage(`${plain.host}/auto/app:v1`);
  });

  it("into a registry that takes schema 1: verbatim by default (same digest), converted with --convert-schema1", async () => {
    const source = await servedDigest(s1, "src/app", "v1");
    const verbatim = await copyImage(store(s1, "src/app", "source"), "v1", store(s1, "kept/app", "destination"), "v1");
    assert.equal(verbatim.converted, undefined);
    assert.equal(verbatim.digest, source);
    assert.equal(await servedDigest(s1, "kept/app", "v1"), source);
    const cli = await ferry(["copy", "--json", "--quiet", "--convert-schema1", `${s1.host}/src/app:v1`, `${s1.host}/converted/app:v1`]);
    assert.equal(cli.code, 0, cli.stderr);
    const r = JSON.parse(cli.stdout);
    assert.equal(r.converted, "schema1");
    assert.equal(await servedDigest(s1, "converted/app", "v1"), r.digest);
    assert.equal(JSON.parse((await skopeoInspectRaw(`${s1.host}/converted/app:v1`)).toString()).mediaType, DOCKER_MANIFEST);
    await assertSameImage(`${s1.host}/converted/app:v1`);
  });
});
