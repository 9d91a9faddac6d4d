/**
 * One gzipped tar layer from a directory tree, as a stream, never in memory: `measureLayer`
 * hashes it (diff_id, digest, size) and keeps nothing; `openLayer` produces the same bytes again
 * for the upload.
 *
 * Why two passes rather than a spool file: a sink needs the digest and size before the first
 * byte, and the layer is reproducible by construction (sorted walk, fixed times, owners and gzip
 * settings), so the second pass yields the bytes the first one hashed. A spool would need disk
 * space the size of the layer, and in a container /tmp is often a tmpfs — memory again, which a
 * multi-GB tree must not cost. The price is reading and compressing the tree twice (none at all
 * when the destination has the layer already or with --dry-run, which stop after the first pass).
 * If the tree changes between the passes, the sink's digest check (registry and OCI layout both
 * verify before committing) refuses the blob: a wrong layer is never stored. A retried upload
 * re-opens the stream the same way.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { pipeline as pipelineCb } from "node:stream";
import { createGzip } from "node:zlib";
import { FerryError } from "../errors.ts";
import { padding, TAR_END, tarHeader } from "./tar.ts";
import { walkTree, type WalkOptions } from "./walk.ts";

/**
 * Fixed gzip settings: level 6 (zlib's default: level 9 costs about twice the CPU for a few per
 * cent, and every push compresses twice). Node's gzip header carries no name and mtime 0.
 */
const GZIP = { level: 6, memLevel: 8, windowBits: 15, chunkSize: 64 * 1024 } as const;
const READ_CHUNK = 1024 * 1024;

/** What a layer is, as the manifest and config name it. */
export interface LayerDigests {
  /** sha256 of the uncompressed tar: the config's rootfs.diff_ids entry. */
  diffId: string;
  /** sha256 of the gzipped bytes: the blob's digest. */
  digest: string;
  /** Bytes of the gzipped blob. */
  size: number;
  /** Bytes of the uncompressed tar. */
  tarSize: number;
}

/** The uncompressed tar of `root` as a stream of buffers (headers, file contents read as streams, padding). */
export function tarStream(root: string, opts: WalkOptions): Readable {
  return Readable.from(tarChunks(root, opts), { objectMode: false, highWaterMark: READ_CHUNK });
}

async function* tarChunks(root: string, opts: WalkOptions): AsyncGenerator<Buffer> {
  for await (const { entry, path } of walkTree(root, opts)) {
    yield tarHeader(entry);
    if (entry.type !== "file" || entry.size === 0) continue;
    let n = 0;
    for await (const chunk of createReadStream(path, { highWaterMark: READ_CHUNK })) {
      n += (chunk as Buffer).byteLength;
      if (n > entry.size) break;
      yield chunk as Buffer;
    }
    // The header promised `size` bytes: a file that grew or shrank while read cannot be archived.
    if (n !== entry.size) throw new FerryError("SIZE_MISMATCH", `${path} changed while it was read (${entry.size} bytes when listed)`);
    yield padding(entry.size);
  }
  yield TAR_END;
}

/** The gzipped layer of `root`: what is uploaded. Errors of the walk reach the consumer. */
export function openLayer(root: string, opts: WalkOptions): Readable {
  const gzip = createGzip(GZIP);
  // The callback form wires destruction both ways: a consumer that stops stops the walk.
  return pipelineCb(tarStream(root, opts), gzip, () => {});
}

/** First pass: hashes the tar and its gzip on the fly, keeps none of it. */
export async function measureLayer(root: string, opts: WalkOptions & { signal?: AbortSignal }): Promise<LayerDigests> {
  const raw = createHash("sha256");
  const gz = createHash("sha256");
  let tarSize = 0;
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _e, cb) {
      raw.update(chunk);
      tarSize += chunk.byteLength;
      cb(null, chunk);
    },
  });
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      gz.update(chunk);
      size += chunk.byteLength;
      cb();
    },
  });
  await pipeline(tarStream(root, opts), tap, createGzip(GZIP), sink, ...(opts.signal ? [{ signal: opts.signal }] : []));
  return { diffId: `sha256:${raw.digest("hex")}`, digest: `sha256:${gz.digest("hex")}`, size, tarSize };
}
