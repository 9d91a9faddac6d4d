/**
 * An OCI image layout directory (image-spec image-layout.md) as a source and a sink: blobs under
 * `blobs/<alg>/<hex>`, tags as `org.opencontainers.image.ref.name` annotations in `index.json`.
 * Nothing below the directory is followed if it is a link (layout-files.ts: UNSAFE_PATH). Writes
 * are verified before they become visible (temp file, hash, rename); a blob already there counts
 * only once its bytes hash to its digest, so a corrupt one is replaced rather than skipped.
 */
import type { FileHandle } from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import { FerryError } from "../errors.ts";
import { DigestVerifier, digestOf, isDigest, parseDigest } from "../oci/digest.ts";
import { type Descriptor, parseManifest, type RawManifest } from "../oci/manifest.ts";
import { DOCKER_LIST, DOCKER_MANIFEST, DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED, OCI_INDEX } from "../oci/media-types.ts";
import { LayoutFiles } from "./layout-files.ts";
import { isLayoutRefName } from "./location.ts";
import type { ImageSink, ImageSource } from "./ports.ts";

const REF_NAME = "org.opencontainers.image.ref.name";

interface LayoutIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Array<Descriptor & { annotations?: Record<string, string> }>;
  [k: string]: unknown;
}

export class OciLayoutStore implements ImageSource, ImageSink {
  readonly dir: string;
  private readonly files: LayoutFiles;
  private indexLock: Promise<void> = Promise.resolve();
  /** Blobs whose bytes this store hashed to their digest (or wrote itself), with their size. */
  private readonly verified = new Map<string, number>();

  constructor(dir: string) {
    this.dir = dir;
    this.files = new LayoutFiles(dir);
  }

  get name(): string {
    return `oci:${this.dir}`;
  }

  /** `oci:DIR:REF` for a ref name, `oci:DIR@DIGEST` for a digest (location.ts parses both). */
  address(ref: string): string {
    return `oci:${this.dir}${isDigest(ref) ? "@" : ":"}${ref}`;
  }

  private blobParts(digest: string): string[] {
    const d = parseDigest(digest);
    return ["blobs", d.algorithm, d.encoded];
  }

  private async readIndex(): Promise<LayoutIndex | undefined> {
    const bytes = await this.files.read(["index.json"]);
    if (!bytes) return undefined;
    try {
      return JSON.parse(bytes.toString("utf8")) as LayoutIndex;
    } catch {
      throw new FerryError("MANIFEST_INVALID", `${this.name}: index.json is not valid JSON`);
    }
  }

  /** The layout's tags: the ref names of index.json (referrers fallback and cosign tags among them). */
  async tagListAll(): Promise<string[]> {
    const idx = await this.readIndex();
    return (idx?.manifests ?? []).flatMap((m) => (m.annotations?.[REF_NAME] ? [m.annotations[REF_NAME]] : []));
  }

  /**
   * What `oci:DIR` without a ref names: the layout's only image (its ref name, or its digest when
   * it has none), as skopeo reads it. NOT_FOUND for an empty layout; USAGE, listing the ref names,
   * when there are several images to choose from.
   */
  async onlyImage(): Promise<string> {
    const entries = (await this.readIndex())?.manifests ?? [];
    const only = entries[0];
    if (!only) throw new FerryError("NOT_FOUND", `${this.name}: the layout holds no image`);
    if (entries.length > 1) {
      const names = entries.map((m) => m.annotations?.[REF_NAME] ?? m.digest).join(", ");
      throw new FerryError("USAGE", `${this.name} holds ${entries.length} images; name one as oci:${this.dir}:REF or oci:${this.dir}@DIGEST (${names})`);
    }
    return only.annotations?.[REF_NAME] ?? only.digest;
  }

  /** The descriptor for a ref name or digest, as index.json and the blob store say (not verified). */
  private async resolve(ref: string): Promise<Descriptor | undefined> {
    if (isDigest(ref)) {
      const size = await this.files.size(this.blobParts(ref));
      if (size === undefined) return undefined;
      const listed = (await this.readIndex())?.manifests.find((m) => m.digest === ref);
      if (listed) return { mediaType: listed.mediaType, digest: ref, size };
      const bytes = await this.files.read(this.blobParts(ref));
      return bytes ? { mediaType: parseManifest(bytes).mediaType, digest: ref, size } : undefined;
    }
    const hit = (await this.readIndex())?.manifests.find((m) => m.annotations?.[REF_NAME] === ref);
    return hit ? { mediaType: hit.mediaType, digest: hit.digest, size: hit.size } : undefined;
  }

  /** The manifest a ref name or digest names, when its blob is there and hashes to its digest. */
  async manifestHead(ref: string): Promise<Descriptor | undefined> {
    const desc = await this.resolve(ref);
    return desc && (await this.blobHead(desc.digest)) !== undefined ? desc : undefined;
  }

  async manifestGet(ref: string): Promise<RawManifest> {
    const desc = await this.resolve(ref);
    if (!desc) {
      const names = isDigest(ref) ? [] : await this.tagListAll();
      const listed = names.length ? ` (ref names: ${names.join(", ")})` : "";
      throw new FerryError("NOT_FOUND", `${this.address(ref)}: no such manifest in the layout${listed}`);
    }
    const bytes = await this.files.read(this.blobParts(desc.digest));
    if (!bytes) throw new FerryError("NOT_FOUND", `${this.address(ref)}: blob ${desc.digest} is missing`);
    const raw = parseManifest(bytes, desc.mediaType);
    if (raw.digest !== desc.digest && digestOf(bytes, parseDigest(desc.digest).algorithm) !== desc.digest) {
      throw new FerryError("DIGEST_MISMATCH", `${this.address(ref)}: blob content does not match ${desc.digest}`);
    }
    return { ...raw, digest: desc.digest };
  }

  /**
   * Size of the blob when the layout holds it and its bytes hash to `digest`; undefined when it is
   * missing or corrupt (a sink then writes it again). Hashed once per store.
   */
  async blobHead(digest: string): Promise<number | undefined> {
    const known = this.verified.get(digest);
    if (known !== undefined) return known;
    const fh = await this.files.openRead(this.blobParts(digest));
    if (!fh) return undefined;
    try {
      const size = (await fh.stat()).size;
      if (!(await hashes(fh, digest))) return undefined;
      this.verified.set(digest, size);
      return size;
    } finally {
      await fh.close();
    }
  }

  async blobGet(desc: Descriptor): Promise<Readable> {
    const fh = await this.files.openRead(this.blobParts(desc.digest));
    if (!fh) throw new FerryError("NOT_FOUND", `${this.name}: blob ${desc.digest} is missing`);
    const size = (await fh.stat()).size;
    if (size !== desc.size) {
      await fh.close();
      throw new FerryError("SIZE_MISMATCH", `${this.name}: blob ${desc.digest} has ${size} bytes, descriptor says ${desc.size}`);
    }
    const file = fh.createReadStream({ highWaterMark: 1024 * 1024 });
    const out = verifying(desc);
    // A consumer that stops reading closes the file too.
    file.on("error", (e) => out.destroy(e));
    out.once("close", () => file.destroy());
    return file.pipe(out);
  }

  private async ensureLayout(): Promise<void> {
    if ((await this.files.size(["oci-layout"])) !== undefined) return;
    await this.files.write(["oci-layout"], (fh) => fh.writeFile(JSON.stringify({ imageLayoutVersion: "1.0.0" })));
  }

  async blobPut(desc: Descriptor, open: () => Promise<Readable>): Promise<void> {
    await this.ensureLayout();
    await this.files.write(this.blobParts(desc.digest), async (fh) => {
      const verifier = new DigestVerifier(desc.digest, desc.size);
      for await (const chunk of await open()) {
        verifier.update(chunk as Buffer);
        await fh.write(chunk as Buffer);
      }
      verifier.finish();
    });
    this.verified.set(desc.digest, desc.size);
  }

  async manifestPut(ref: string, bytes: Buffer, mediaType: string): Promise<string> {
    // The image-layout spec has no schema 1: refusing it makes ferry copy convert it to schema 2.
    if (mediaType === DOCKER_SCHEMA1 || mediaType === DOCKER_SCHEMA1_SIGNED) {
      throw new FerryError("UNSUPPORTED", `${this.name}: an OCI image layout does not hold Docker schema 1 manifests`, { side: "destination" });
    }
    const digest = digestOf(bytes);
    const desc = { mediaType, digest, size: bytes.byteLength };
    if ((await this.blobHead(digest)) === undefined) await this.blobPut(desc, async () => Readable.from([bytes]));
    if (!isDigest(ref)) await this.tag(ref, desc);
    return digest;
  }

  /**
   * What a reader of the layout should be told when a manifest of `mediaType` is stored under ref
   * name `ref`: containers/image before v5.35 (skopeo 1.9, podman 4.3) looks a ref name up only
   * among OCI media types, so a Docker one under a ref name is invisible to it ("no descriptor
   * found for reference"); it still reads the layout's only image through `oci:DIR`.
   */
  manifestPutWarning(ref: string, mediaType: string): string | undefined {
    if (isDigest(ref) || (mediaType !== DOCKER_MANIFEST && mediaType !== DOCKER_LIST)) return undefined;
    return (
      `${this.address(ref)}: the image has a Docker media type (${mediaType}); skopeo and podman built on containers/image ` +
      `before v5.35 (e.g. skopeo 1.9, podman 4.3) skip it when looking up ref name ${JSON.stringify(ref)} ("no descriptor found for reference"); ` +
      `they read it only as oci:${this.dir}, while it is the layout's only image`
    );
  }

  /** Points ref name `ref` at `desc` in index.json (one entry per ref name), atomically. */
  private tag(ref: string, desc: Descriptor): Promise<void> {
    if (!isLayoutRefName(ref)) throw new FerryError("INVALID_REFERENCE", `${this.name}: ${JSON.stringify(ref)} is not a valid ref name for an OCI layout`);
    const run = async () => {
      const idx: LayoutIndex = (await this.readIndex()) ?? { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };
      idx.manifests = idx.manifests.filter((m) => m.annotations?.[REF_NAME] !== ref);
      idx.manifests.push({ ...desc, annotations: { [REF_NAME]: ref } });
      await this.files.write(["index.json"], (fh) => fh.writeFile(JSON.stringify(idx)));
    };
    const next = this.indexLock.then(run, run);
    this.indexLock = next.catch(() => undefined);
    return next;
  }
}

/** True when the open file's bytes hash to `digest`. */
async function hashes(fh: FileHandle, digest: string): Promise<boolean> {
  const verifier = new DigestVerifier(digest);
  for await (const chunk of fh.createReadStream({ highWaterMark: 1024 * 1024, autoClose: false })) {
    verifier.update(chunk as Buffer);
  }
  try {
    verifier.finish();
    return true;
  } catch (e) {
    if (e instanceof FerryError && (e.code === "DIGEST_MISMATCH" || e.code === "SIZE_MISMATCH")) return false;
    throw e;
  }
}

/** Hashes and counts the bytes as they pass; the last chunk waits for the digest check (as the registry stream does). */
function verifying(desc: Descriptor): Transform {
  const verifier = new DigestVerifier(desc.digest, desc.size);
  let pending: Buffer | undefined;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      try {
        verifier.update(chunk);
      } catch (e) {
        cb(e as Error);
        return;
      }
      const out = pending;
      pending = chunk;
      cb(null, out);
    },
    flush(cb) {
      try {
        verifier.finish();
      } catch (e) {
        cb(e as Error);
        return;
      }
      cb(null, pending);
    },
  });
}
