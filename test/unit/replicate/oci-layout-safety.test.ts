/**
 * An OCI layout is read and written inside its directory only: a link below it — a blob, a blob
 * directory, index.json, oci-layout — fails closed with UNSAFE_PATH, and nothing outside is read
 * or written (a sentinel outside stays as it was; no file appears outside). A blob already in a
 * destination layout counts only when it hashes to its digest. `oci:DIR` without a ref names the
 * only image. Docker media types under a ref name come with a warning for containers/image readers.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, describe, it } from "node:test";
import { FerryError } from "../../../lib/errors.ts";
import { DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST } from "../../../lib/oci/media-types.ts";
import { copyImage } from "../../../lib/replicate/copy.ts";
import { OciLayoutStore } from "../../../lib/replicate/oci-layout.ts";
import { type BlobSpec, randomImage, writeOciLayout } from "../../helpers/images.ts";

const roots: string[] = [];
after(() => Promise.all(roots.map((d) => rm(d, { recursive: true, force: true }))));

async function tempRoot(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "ferry-layout-safety-"));
  roots.push(d);
  return d;
}

const code = (c: string) => (e: unknown) => e instanceof FerryError && e.code === c;

/** Every file and link under `dir`, relative, with a hash of each file's bytes. */
async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const p = join(e.parentPath, e.name);
    const rel = relative(dir, p);
    if (e.isSymbolicLink()) out[rel] = "link";
    else if (e.isFile())
      out[rel] = createHash("sha256")
        .update(await readFile(p))
        .digest("hex");
  }
  return out;
}

async function bytesOf(b: BlobSpec): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of b.open()) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A source layout holding one generated image at `v1`, and the image. */
async function sourceLayout(root: string, seed: string) {
  const image = randomImage({ layers: 2, layerSize: 20_000, seed });
  const dir = join(root, "src");
  await writeOciLayout(dir, image, "v1");
  const layer = image.blobs.find((b) => b.mediaType === OCI_LAYER_GZIP) as BlobSpec;
  return { dir, image, layer, layerPath: join(dir, "blobs", "sha256", layer.digest.slice(7)) };
}

describe("reading a layout never follows a link out of it", () => {
  it("refuses a blob that is a link to a file outside, even one holding the right bytes: nothing of it reaches the destination", async () => {
    const root = await tempRoot();
    const src = await sourceLayout(root, "exfil");
    // The worst case: the outside file hashes to the digest, so a digest check alone would pass it.
    const secret = join(root, "outside", "secret");
    await mkdir(join(root, "outside"));
    await writeFile(secret, await bytesOf(src.layer));
    const before = await stat(secret);
    await rm(src.layerPath);
    await symlink(secret, src.layerPath);

    const store = new OciLayoutStore(src.dir);
    await assert.rejects(store.blobGet(src.layer), code("UNSAFE_PATH"));
    await assert.rejects(store.blobHead(src.layer.digest), code("UNSAFE_PATH"));

    const dst = join(root, "dst");
    await assert.rejects(copyImage(store, "v1", new OciLayoutStore(dst), "v1", { referrers: false }), code("UNSAFE_PATH"));
    const secretHash = createHash("sha256")
      .update(await readFile(secret))
      .digest("hex");
    const written = await tree(dst).catch(() => ({}));
    assert.ok(!Object.values(written).includes(secretHash), "no file of the destination holds the outside file's bytes");
    assert.ok(!Object.keys(written).some((p) => p.endsWith(src.layer.digest.slice(7))), "the layer was not stored");
    assert.equal((await stat(secret)).mtimeMs, before.mtimeMs);
  });

  it("refuses a manifest blob, an index.json or a blob directory that is a link", async () => {
    const root = await tempRoot();
    const src = await sourceLayout(root, "links");
    await mkdir(join(root, "outside"));
    // The manifest blob as a link (to an outside copy of itself).
    const manifestPath = join(src.dir, "blobs", "sha256", src.image.digest.slice(7));
    await writeFile(join(root, "outside", "manifest"), src.image.bytes);
    await rm(manifestPath);
    await symlink(join(root, "outside", "manifest"), manifestPath);
    await assert.rejects(new OciLayoutStore(src.dir).manifestGet("v1"), code("UNSAFE_PATH"));
    await assert.rejects(new OciLayoutStore(src.dir).manifestHead("v1"), code("UNSAFE_PATH"));

    // index.json as a link.
    const other = await sourceLayout(await tempRoot(), "links-2");
    await writeFile(join(root, "outside", "index.json"), await readFile(join(other.dir, "index.json")));
    await rm(join(other.dir, "index.json"));
    await symlink(join(root, "outside", "index.json"), join(other.dir, "index.json"));
    await assert.rejects(new OciLayoutStore(other.dir).manifestGet("v1"), code("UNSAFE_PATH"));
    await assert.rejects(new OciLayoutStore(other.dir).tagListAll(), code("UNSAFE_PATH"));

    // blobs/sha256 as a link to a copy of the real one.
    const third = await sourceLayout(await tempRoot(), "links-3");
    const moved = join(root, "outside", "sha256");
    await mkdir(moved);
    for (const f of await readdir(join(third.dir, "blobs", "sha256"))) await writeFile(join(moved, f), await readFile(join(third.dir, "blobs", "sha256", f)));
    await rm(join(third.dir, "blobs", "sha256"), { recursive: true });
    await symlink(moved, join(third.dir, "blobs", "sha256"));
    await assert.rejects(new OciLayoutStore(third.dir).blobGet(third.layer), code("UNSAFE_PATH"));
    await assert.rejects(new OciLayoutStore(third.dir).manifestGet("v1"), code("UNSAFE_PATH"));
  });

  it("follows the layout directory itself when it is a link: the user named it", async () => {
    const root = await tempRoot();
    const src = await sourceLayout(root, "dir-link");
    await symlink(src.dir, join(root, "via-link"));
    const raw = await new OciLayoutStore(join(root, "via-link")).manifestGet("v1");
    assert.equal(raw.digest, src.image.digest);
  });
});

describe("writing a layout never writes through a link", () => {
  const cases: Array<[string, (dst: string, outside: string) => Promise<void>]> = [
    [
      "blobs/sha256 is a link to a directory outside",
      async (dst, outside) => {
        await mkdir(join(dst, "blobs"), { recursive: true });
        await symlink(outside, join(dst, "blobs", "sha256"));
      },
    ],
    [
      "blobs is a link to a directory outside",
      async (dst, outside) => {
        await mkdir(dst, { recursive: true });
        await symlink(outside, join(dst, "blobs"));
      },
    ],
    [
      "index.json is a link to a file outside",
      async (dst, outside) => {
        await mkdir(dst, { recursive: true });
        await writeFile(join(outside, "sentinel"), "keep me");
        await symlink(join(outside, "sentinel"), join(dst, "index.json"));
      },
    ],
    [
      "oci-layout is a link to a file outside",
      async (dst, outside) => {
        await mkdir(dst, { recursive: true });
        await writeFile(join(outside, "sentinel"), "keep me");
        await symlink(join(outside, "sentinel"), join(dst, "oci-layout"));
      },
    ],
  ];
  for (const [name, plant] of cases) {
    it(`fails with UNSAFE_PATH, nothing outside changes, when ${name}`, async () => {
      const root = await tempRoot();
      const src = await sourceLayout(root, `write-${name}`);
      const outside = join(root, "outside");
      await mkdir(outside);
      const dst = join(root, "dst");
      await plant(dst, outside);
      const before = await tree(outside);
      await assert.rejects(copyImage(new OciLayoutStore(src.dir), "v1", new OciLayoutStore(dst), "v1", { referrers: false }), code("UNSAFE_PATH"));
      assert.deepEqual(await tree(outside), before, "no file appeared or changed outside the layout");
    });
  }

  it("fails with UNSAFE_PATH on a blob that is a link to a file outside, which stays as it was", async () => {
    const root = await tempRoot();
    const src = await sourceLayout(root, "write-blob-link");
    const outside = join(root, "outside");
    await mkdir(outside);
    await writeFile(join(outside, "sentinel"), "keep me");
    const dst = join(root, "dst");
    await mkdir(join(dst, "blobs", "sha256"), { recursive: true });
    await symlink(join(outside, "sentinel"), join(dst, "blobs", "sha256", src.layer.digest.slice(7)));
    await assert.rejects(copyImage(new OciLayoutStore(src.dir), "v1", new OciLayoutStore(dst), "v1", { referrers: false }), code("UNSAFE_PATH"));
    assert.equal(await readFile(join(outside, "sentinel"), "utf8"), "keep me");
    assert.deepEqual(Object.keys(await tree(outside)), ["sentinel"]);
  });
});

describe("a blob already in a destination layout", () => {
  it("is skipped only when it hashes to its digest: a same-size corrupt blob is replaced", async () => {
    const root = await tempRoot();
    const src = await sourceLayout(root, "corrupt");
    const dst = join(root, "dst");
    const first = await copyImage(new OciLayoutStore(src.dir), "v1", new OciLayoutStore(dst), "v1", { referrers: false });
    assert.equal(first.blobs.copied, 3);
    const path = join(dst, "blobs", "sha256", src.layer.digest.slice(7));
    const good = await readFile(path);
    const bad = Buffer.from(good);
    bad[100] = (bad[100] as number) ^ 0xff;
    await writeFile(path, bad);
    assert.equal(await new OciLayoutStore(dst).blobHead(src.layer.digest), undefined, "a corrupt blob is not there");

    // A new tag, so the copy looks at each blob (the same tag would be up to date by its manifest).
    const again = await copyImage(new OciLayoutStore(src.dir), "v1", new OciLayoutStore(dst), "v2", { referrers: false });
    assert.equal(again.blobs.copied, 1, "the corrupt layer is written again");
    assert.equal(again.blobs.skipped, 2, "the intact config and layer are skipped");
    assert.deepEqual(await readFile(path), good);
    assert.equal(await new OciLayoutStore(dst).blobHead(src.layer.digest), good.byteLength);
  });
});

describe("oci:DIR without a ref", () => {
  const index = (manifests: object[]) => JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests });
  const entry = (digest: string, name?: string) => ({
    mediaType: OCI_MANIFEST,
    digest,
    size: 2,
    ...(name ? { annotations: { "org.opencontainers.image.ref.name": name } } : {}),
  });
  const d = (c: string) => `sha256:${c.repeat(64)}`;

  it("names the only image: its ref name, or its digest when it has none", async () => {
    const dir = await tempRoot();
    await writeFile(join(dir, "index.json"), index([entry(d("a"), "team/app-1.0")]));
    assert.equal(await new OciLayoutStore(dir).onlyImage(), "team/app-1.0");
    await writeFile(join(dir, "index.json"), index([entry(d("a"))]));
    assert.equal(await new OciLayoutStore(dir).onlyImage(), d("a"));
  });

  it("is USAGE, listing the ref names, with several images; NOT_FOUND when there is none", async () => {
    const dir = await tempRoot();
    await writeFile(join(dir, "index.json"), index([entry(d("a"), "v1"), entry(d("b"), "team/app-1.0"), entry(d("c"))]));
    await assert.rejects(
      new OciLayoutStore(dir).onlyImage(),
      (e: unknown) => code("USAGE")(e) && /v1, team\/app-1\.0, sha256:c{64}/.test((e as Error).message),
    );
    await writeFile(join(dir, "index.json"), index([]));
    await assert.rejects(new OciLayoutStore(dir).onlyImage(), code("NOT_FOUND"));
    await assert.rejects(new OciLayoutStore(join(dir, "missing")).onlyImage(), code("NOT_FOUND"));
  });

  it("a ref name the layout lacks is NOT_FOUND", async () => {
    const root = await tempRoot();
    const src = await sourceLayout(root, "missing-ref");
    await assert.rejects(new OciLayoutStore(src.dir).manifestGet("latest"), code("NOT_FOUND"));
    assert.equal(await new OciLayoutStore(src.dir).manifestHead("latest"), undefined);
  });
});

describe("ref names written into a layout", () => {
  it("takes any ref name the image-spec allows, and refuses others before touching index.json", async () => {
    const root = await tempRoot();
    const src = await sourceLayout(root, "ref-names");
    const dst = join(root, "dst");
    const r = await copyImage(new OciLayoutStore(src.dir), "v1", new OciLayoutStore(dst), "team/app-1.0", { referrers: false });
    assert.equal(r.addressByTag, `oci:${dst}:team/app-1.0`);
    assert.deepEqual(await new OciLayoutStore(dst).tagListAll(), ["team/app-1.0"]);
    await assert.rejects(new OciLayoutStore(dst).manifestPut("a__b", src.image.bytes, OCI_MANIFEST), code("INVALID_REFERENCE"));
    assert.deepEqual(await new OciLayoutStore(dst).tagListAll(), ["team/app-1.0"]);
  });

  it("warns when a Docker media type goes under a ref name (containers/image before v5.35 skips it)", () => {
    const store = new OciLayoutStore("/srv/out");
    for (const mt of [DOCKER_MANIFEST, DOCKER_LIST]) assert.match(store.manifestPutWarning("team/app", mt) ?? "", /skopeo 1\.9, podman 4\.3/);
    assert.equal(store.manifestPutWarning("team/app", OCI_MANIFEST), undefined);
    assert.equal(store.manifestPutWarning(`sha256:${"a".repeat(64)}`, DOCKER_MANIFEST), undefined, "no ref name, nothing to look up");
  });
});
