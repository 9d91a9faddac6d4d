/**
 * A large blob copied across invocations: chunked PATCHes onto one upload session, hashed as they
 * go with a hash whose state can be saved (hash-wasm; Node's crypto cannot export it). Before the
 * deadline the copy stops between chunks, confirms with the registry's upload status how much the
 * session holds, saves that with the hash state (a `ResumeBook`), and ends with RESUMABLE. The
 * next call resumes there: a Range GET at the source, PATCHes from the same offset. A session the
 * registry forgot (404) starts over from 0. The digest is checked before the commit PUT.
 * Not for registries whose upload Range cannot be trusted (ECR: `profile.neverChunk`).
 */
import { createSHA256, createSHA512, type IHasher } from "hash-wasm";
import { FerryError, RegistryError } from "../errors.ts";
import { parseDigest } from "../oci/digest.ts";
import { blobGetFrom } from "./blob-download.ts";
import { chunkLimit, fixedChunks } from "./blob-upload.ts";
import type { RegistryEndpoint } from "./endpoint.ts";
import type { CallOptions } from "./exchange.ts";
import { isRetryable, withRetries } from "./retry.ts";
import { blobUploadCancel, blobUploadChunk, blobUploadCommit, blobUploadStart, blobUploadStatus } from "./upload-session.ts";

/** Bytes per PATCH unless told otherwise (capped by the host's profile: GHCR takes 4 MiB). */
export const DEFAULT_RESUMABLE_CHUNK = 8 * 1024 * 1024;
/** Time kept before the deadline to confirm the session's offset and save the record. */
export const DEFAULT_RESERVE_MS = 10_000;

/** Where a copy stopped (the store's `UploadRecord`). */
export interface ResumePoint {
  digest: string;
  size: number;
  location: string;
  offset: number;
  /** Hash state over [0, offset), base64. */
  hashState: string;
}

/** The one record of this copy: read at the start, saved when it pauses, dropped when it ends. */
export interface ResumeBook {
  get(): Promise<ResumePoint | undefined>;
  save(p: ResumePoint): Promise<void>;
  drop(): Promise<void>;
}

/** One end of the copy: a registry and a repository on it. */
export interface BlobEnd {
  ep: RegistryEndpoint;
  repo: string;
}

export interface ResumableOptions extends CallOptions {
  /** An upload session already open (a refused mount's); used when there is nothing to resume. */
  location?: string;
  /** Default {@link DEFAULT_RESERVE_MS}. */
  reserveMs?: number;
  /** Default {@link DEFAULT_RESUMABLE_CHUNK}. */
  chunkSize?: number;
}

/** A copy under way: the session, what it holds, and the chunk sent but not yet confirmed. */
interface Run {
  location: string;
  offset: number;
  startedAt: number;
  inFlight?: Buffer;
}

/** True when blobs can be copied this way to `dst`: its upload status can be trusted (not ECR's). */
export function canResume(dst: RegistryEndpoint): boolean {
  return !dst.profile.neverChunk;
}

/**
 * Copies the blob `desc` from `src` to `dst`, resuming from `book` and saving to it when the
 * deadline comes first (then rejects with RESUMABLE, or DEADLINE when no byte moved). A retryable
 * failure saves where it got to and tries again from there within this call.
 */
export async function blobCopyResumable(
  src: BlobEnd,
  dst: BlobEnd,
  desc: { digest: string; size: number },
  book: ResumeBook,
  opts: ResumableOptions = {},
): Promise<void> {
  let first = true;
  await withRetries(
    async () => {
      const location = first ? opts.location : undefined;
      first = false;
      await copyOnce(src, dst, desc, book, { ...opts, ...(location ? { location } : { location: undefined }) });
    },
    dst.ep.retry,
    {
      signal: opts.signal,
      deadline: opts.deadline,
      retryable: (e) => isRetryable(e) && !(e instanceof FerryError && (e.code === "RESUMABLE" || e.code === "DEADLINE")),
    },
  );
}

async function copyOnce(src: BlobEnd, dst: BlobEnd, desc: { digest: string; size: number }, book: ResumeBook, opts: ResumableOptions): Promise<void> {
  const hasher = await hasherFor(desc.digest);
  const run = await resumePoint(dst, desc, book, hasher, opts);
  const stopAt = opts.deadline === undefined ? Number.POSITIVE_INFINITY : opts.deadline - (opts.reserveMs ?? DEFAULT_RESERVE_MS);
  let outcome: "done" | "paused";
  try {
    outcome = await transfer(src, dst, desc, hasher, run, stopAt, opts);
  } catch (e) {
    if (!isRetryable(e)) await abandon(dst, run, book);
    else await pause(dst, desc, hasher, run, book, opts).catch(() => undefined);
    throw e;
  }
  // Every byte is there when the deadline came: commit now rather than leave it to the next delivery.
  if (outcome === "paused" && run.offset < desc.size) {
    await pause(dst, desc, hasher, run, book, opts);
    const at = `${dst.ep.host}/${dst.repo}@${desc.digest}: stopped at ${run.offset} of ${desc.size} bytes before the deadline`;
    if (run.offset > run.startedAt) throw new FerryError("RESUMABLE", `${at}; the next delivery resumes there`, { retryable: true, side: "destination" });
    throw new FerryError("DEADLINE", `${at}, no byte moved this time`, { retryable: true, side: "destination" });
  }
  await commit(dst, desc, hasher, run, book, opts);
}

/** A hash of the digest's algorithm, not yet initialised. */
async function hasherFor(digest: string): Promise<IHasher> {
  const alg = parseDigest(digest).algorithm;
  if (alg === "sha256") return createSHA256();
  if (alg === "sha512") return createSHA512();
  throw new FerryError("UNSUPPORTED_DIGEST", `${digest}: resumable copies hash sha256 and sha512 only`);
}

/** The saved point when the session still holds exactly its bytes; else a fresh session from 0 (the stale one cancelled). */
async function resumePoint(dst: BlobEnd, desc: { digest: string; size: number }, book: ResumeBook, hasher: IHasher, opts: ResumableOptions): Promise<Run> {
  const rec = await book.get();
  if (rec && rec.digest === desc.digest && rec.size === desc.size) {
    const status = await blobUploadStatus(dst.ep, dst.repo, rec.location, opts).catch((e: unknown) => {
      if (e instanceof RegistryError && e.status === 404) return undefined; // BLOB_UPLOAD_UNKNOWN: the registry forgot it
      throw e;
    });
    if (status && status.offset === rec.offset) {
      hasher.load(Buffer.from(rec.hashState, "base64"));
      if (opts.location) void blobUploadCancel(dst.ep, opts.location, dst.repo);
      return { location: status.location, offset: rec.offset, startedAt: rec.offset };
    }
    if (status) void blobUploadCancel(dst.ep, status.location, dst.repo);
  }
  if (rec) await book.drop();
  hasher.init();
  const location = opts.location ?? (await blobUploadStart(dst.ep, dst.repo, opts)).location;
  return { location, offset: 0, startedAt: 0 };
}

/**
 * PATCHes the rest of the blob from `run.offset`, hashing each chunk once the registry took it.
 * "paused" when the next chunk would end too close to `stopAt` (judged by the last one), or when
 * a read or PATCH ran into it.
 */
async function transfer(
  src: BlobEnd,
  dst: BlobEnd,
  desc: { size: number; digest: string },
  hasher: IHasher,
  run: Run,
  stopAt: number,
  opts: ResumableOptions,
): Promise<"done" | "paused"> {
  if (run.offset >= desc.size) return "done";
  if (Date.now() >= stopAt) return "paused";
  const call: CallOptions = { ...(opts.signal ? { signal: opts.signal } : {}), ...(Number.isFinite(stopAt) ? { deadline: stopAt } : {}) };
  const body = await blobGetFrom(src.ep, src.repo, desc, run.offset, call);
  const chunks = fixedChunks(body, chunkLimit(dst.ep.profile, { chunkSize: opts.chunkSize ?? DEFAULT_RESUMABLE_CHUNK }, undefined));
  let cycle = 0;
  try {
    for (;;) {
      const began = Date.now();
      if (began + cycle * 1.5 > stopAt) return "paused";
      const next = await chunks.next();
      if (next.done) return "done";
      run.inFlight = next.value;
      run.location = await blobUploadChunk(dst.ep, dst.repo, run.location, run.offset, next.value, call);
      run.inFlight = undefined;
      hasher.update(next.value);
      run.offset += next.value.byteLength;
      cycle = Date.now() - began;
    }
  } catch (e) {
    if (e instanceof FerryError && e.code === "DEADLINE" && !opts.signal?.aborted) return "paused";
    throw e;
  } finally {
    body.destroy();
    await chunks.return(undefined);
  }
}

/**
 * Confirms how much the session holds and saves the point. A chunk cut mid-PATCH counts when the
 * registry holds all of it; any other disagreement drops the record (the next call starts over).
 */
async function pause(dst: BlobEnd, desc: { digest: string; size: number }, hasher: IHasher, run: Run, book: ResumeBook, opts: CallOptions): Promise<void> {
  const status = await blobUploadStatus(dst.ep, dst.repo, run.location, opts);
  if (run.inFlight && status.offset === run.offset + run.inFlight.byteLength) {
    hasher.update(run.inFlight);
    run.offset = status.offset;
  }
  run.inFlight = undefined;
  if (status.offset !== run.offset) {
    await abandon(dst, run, book);
    throw new FerryError("DEADLINE", `${dst.ep.host}/${dst.repo}: the upload session holds ${status.offset} bytes, ferry sent ${run.offset}: it starts over`, {
      retryable: true,
      side: "destination",
    });
  }
  run.location = status.location;
  const hashState = Buffer.from(hasher.save()).toString("base64");
  await book.save({ digest: desc.digest, size: desc.size, location: run.location, offset: run.offset, hashState });
}

/** Checks the digest over every byte sent, then commits the session; the record goes either way. */
async function commit(dst: BlobEnd, desc: { digest: string; size: number }, hasher: IHasher, run: Run, book: ResumeBook, opts: CallOptions): Promise<void> {
  const got = `${parseDigest(desc.digest).algorithm}:${hasher.digest("hex")}`;
  if (got !== desc.digest) {
    await abandon(dst, run, book);
    throw new FerryError("DIGEST_MISMATCH", `digest mismatch: expected ${desc.digest}, got ${got} (resumed at ${run.startedAt})`, { side: "source" });
  }
  try {
    await blobUploadCommit(dst.ep, dst.repo, run.location, desc.digest, opts);
  } finally {
    await book.drop();
  }
}

/** Cancels the session and drops the record: nothing of this copy is worth resuming. */
async function abandon(dst: BlobEnd, run: Run, book: ResumeBook): Promise<void> {
  void blobUploadCancel(dst.ep, run.location, dst.repo);
  await book.drop();
}
