/**
 * An OCI image layout directory (image-spec image-layout.md) as a source and a sink: blobs under
 * `blobs/<alg>/<hex>`, tags as `org.opencontainers.image.ref.name` annotations in `index.json`.
 * Writes are verified before they become visible (temp file, hash, rename).
 */
import { randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { FerryError } from "../errors.ts";
import { DigestVerifier, digestOf, isDigest, parseDigest } from "../oci/digest.ts";
import { type Descriptor, parseManifest, type RawManifest } from "../oci/manifest.ts";
import { OCI_INDEX } from "../oci/media-types.ts";
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
  private indexLock: Promise<void> = Promise.resolve();

  constructor(dir: string) {
    this.dir = dir;
  }

  get name(): string {
    return `oci:${this.dir}`;
  }

  address(ref: string): string {
    return `oci:${this.dir}${isDigest(ref) ? "@" : ":"}${ref}`;
  }

  private blobPath(digest: string): string {
    const d = parseDigest(digest);
    return join(this.dir, "blobs", d.algorithm, d.encoded);
  }

  private async readIndex(): Promise<LayoutIndex | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.dir, "index.json"), "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
    try {
      return JSON.parse(text) as LayoutIndex;
    } catch {
      throw new FerryError("MANIFEST_INVALID", `${this.name}: index.json is not valid JSON`);
    }
  }

  /** The layout's tags: the ref names of index.json (referrers fallback and cosign tags among them). */
  async tagListAll(): Promise<string[]> {
    const idx = await this.readIndex();
    return (idx?.manifests ?? []).flatMap((m) => (m.annotations?.[REF_NAME] ? [m.annotations[REF_NAME]] : []));
  }

  /** Finds the descriptor for a tag (ref name) or digest. */
  private async resolve(ref: string): Promise<Descriptor | undefined> {
    if (isDigest(ref)) {
      const size = await this.blobHead(ref);
      if (size === undefined) return undefined;
      const idx = await this.readIndex();
      const listed = idx?.manifests.find((m) => m.digest === ref);
      if (listed) return { mediaType: listed.mediaType, digest: ref, size };
      const raw = parseManifest(await readFile(this.blobPath(ref)));
      return { mediaType: raw.mediaType, digest: ref, size };
    }
    const idx = await this.readIndex();
    const hit = idx?.manifests.find((m) => m.annotations?.[REF_NAME] === ref);
    return hit ? { mediaType: hit.mediaType, digest: hit.digest, size: hit.size } : undefined;
  }

  async manifestHead(ref: string): Promise<Descriptor | undefined> {
    return this.resolve(ref);
  }

  async manifestGet(ref: string): Promise<RawManifest> {
    const desc = await this.resolve(ref);
    if (!desc) throw new FerryError("NOT_FOUND", `${this.address(ref)}: no such manifest in the layout`);
    const bytes = await readFile(this.blobPath(desc.digest));
    const raw = parseManifest(bytes, desc.mediaType);
    if (raw.digest !== desc.digest && digestOf(bytes, parseDigest(desc.digest).algorithm) !== desc.digest) {
      throw new FerryError("DIGEST_MISMATCH", `${this.address(ref)}: blob content does not match ${desc.digest}`);
    }
    return { ...raw, digest: desc.digest };
  }

  async blobHead(digest: string): Promise<number | undefined> {
    try {
      return (await stat(this.blobPath(digest))).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
  }

  async blobGet(desc: Descriptor): Promise<Readable> {
    const path = this.blobPath(desc.digest);
    const size = await this.blobHead(desc.digest);
    if (size === undefined) throw new FerryError("NOT_FOUND", `${this.name}: blob ${desc.digest} is missing`);
    if (size !== desc.size) throw new FerryError("SIZE_MISMATCH", `${this.name}: blob ${desc.digest} has ${size} bytes, descriptor says ${desc.size}`);
    const verifier = new DigestVerifier(desc.digest, desc.size);
    let pending: Buffer | undefined;
    // Same rule as the registry stream: the last chunk waits for the digest check.
    const check = new Transform({
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
    return createReadStream(path, { highWaterMark: 1024 * 1024 }).pipe(check);
  }

  private async ensureLayout(): Promise<void> {
    await mkdir(join(this.dir, "blobs"), { recursive: true });
    try {
      await stat(join(this.dir, "oci-layout"));
    } catch {
      await writeFile(join(this.dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    }
  }

  async blobPut(desc: Descriptor, open: () => Promise<Readable>): Promise<void> {
    await this.ensureLayout();
    const final = this.blobPath(desc.digest);
    await mkdir(join(final, ".."), { recursive: true });
    const tmp = `${final}.${randomUUID()}.tmp`;
    const verifier = new DigestVerifier(desc.digest, desc.size);
    try {
      await pipeline(
        await open(),
        new Transform({
          transform(chunk: Buffer, _e, cb) {
            try {
              verifier.update(chunk);
              cb(null, chunk);
            } catch (e) {
              cb(e as Error);
            }
          },
        }),
        createWriteStream(tmp),
      );
      verifier.finish();
      await rename(tmp, final);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async manifestPut(ref: string, bytes: Buffer, mediaType: string): Promise<string> {
    const digest = digestOf(bytes);
    const desc = { mediaType, digest, size: bytes.byteLength };
    if ((await this.blobHead(digest)) === undefined) await this.blobPut(desc, async () => Readable.from([bytes]));
    if (!isDigest(ref)) await this.tag(ref, desc);
    return digest;
  }

  /** Points tag `ref` at `desc` in index.json (one entry per tag), atomically. */
  private tag(ref: string, desc: Descriptor): Promise<void> {
    const run = async () => {
      const idx: LayoutIndex = (await this.readIndex()) ?? { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };
      idx.manifests = idx.manifests.filter((m) => m.annotations?.[REF_NAME] !== ref);
      idx.manifests.push({ ...desc, annotations: { [REF_NAME]: ref } });
      const tmp = join(this.dir, `index.json.${randomUUID()}.tmp`);
      await writeFile(tmp, JSON.stringify(idx));
      await rename(tmp, join(this.dir, "index.json"));
    };
    const next = this.indexLock.then(run, run);
    this.indexLock = next.catch(() => undefined);
    return next;
  }
}
