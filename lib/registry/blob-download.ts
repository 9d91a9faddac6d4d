/**
 * Streaming blob download: follows redirects (Authorization dropped on other hosts), checks the
 * size, hashes while streaming, and resumes a cut download with `Range` from the registry URL
 * (presigned redirect URLs expire). Memory stays flat: chunks pass straight through.
 * A stall (stall.ts) is resumed once, and only when the transfer had been moving: a source that
 * stalls from the start, or again, fails with STALL instead of looping.
 * `blobGetFrom` reads from an offset on (a resumed copy, whose caller holds the hash state).
 */
import { Readable } from "node:stream";
import { FerryError, type Side, withSide } from "../errors.ts";
import { paceGc } from "../gc-pace.ts";
import { DigestVerifier } from "../oci/digest.ts";
import { Repository } from "../oci/reference.ts";
import type { RegistryEndpoint } from "./endpoint.ts";
import type { CallOptions, Reply } from "./exchange.ts";
import { isNetworkError } from "./retry.ts";
import { isStall } from "./stall.ts";
import { drain, header } from "./transport.ts";

/** Resumes at most this many times per download, and only after progress. */
export const MAX_RESUMES = 5;
/** Of those, resumes after a STALL: each one costs a whole stall timeout. */
export const MAX_STALL_RESUMES = 1;
/** A stalled connection is resumed only when it had delivered this much since it opened. */
export const STALL_RESUME_MIN_BYTES = 1024 * 1024;

/** Opens a verified, resumable stream of a blob. Rejects at once for 404 and other errors. */
export function blobGet(
  ep: RegistryEndpoint,
  repo: string,
  desc: { digest: string; size: number },
  opts: CallOptions & { maxResumes?: number } = {},
): Promise<Readable> {
  return openBlob(ep, repo, desc, 0, new DigestVerifier(desc.digest, desc.size >= 0 ? desc.size : undefined), opts);
}

/**
 * Opens a blob of known size from `offset` to its end (a Range GET; a server that ignores Range
 * is read from the start and the head dropped), size-checked and resumed like `blobGet`, but not
 * digest-checked: the caller hashes these bytes onto the state it saved over [0, offset).
 */
export function blobGetFrom(
  ep: RegistryEndpoint,
  repo: string,
  desc: { digest: string; size: number },
  offset: number,
  opts: CallOptions & { maxResumes?: number } = {},
): Promise<Readable> {
  return openBlob(ep, repo, desc, offset, new ByteCount(desc, offset), opts);
}

/** What a download checks as the bytes pass: the digest and size, or (a resumed read) the size only. */
interface Check {
  update(chunk: Uint8Array): void;
  finish(): void;
}

/** Counts the bytes of a read that starts at `offset`: more than the blob holds, or fewer, is SIZE_MISMATCH. */
class ByteCount implements Check {
  private count: number;
  private readonly desc: { digest: string; size: number };

  constructor(desc: { digest: string; size: number }, offset: number) {
    this.desc = desc;
    this.count = offset;
  }

  update(chunk: Uint8Array): void {
    this.count += chunk.byteLength;
    if (this.count > this.desc.size) throw new FerryError("SIZE_MISMATCH", `${this.desc.digest}: received more than the expected ${this.desc.size} bytes`);
  }

  finish(): void {
    if (this.count !== this.desc.size)
      throw new FerryError("SIZE_MISMATCH", `${this.desc.digest}: size mismatch: expected ${this.desc.size} bytes, got ${this.count}`);
  }
}

async function openBlob(
  ep: RegistryEndpoint,
  repo: string,
  desc: { digest: string; size: number },
  offset: number,
  check: Check,
  opts: CallOptions & { maxResumes?: number },
): Promise<Readable> {
  const knownSize = desc.size >= 0 ? desc.size : undefined;
  const where = new Repository(ep.host, repo).address(desc.digest);
  const get = (offset: number): Promise<Reply> =>
    ep.send({
      ...opts,
      method: "GET",
      path: `/v2/${repo}/blobs/${desc.digest}`,
      repo,
      followRedirects: true,
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
      expect: offset > 0 ? [200, 206] : [200],
    });

  const d: Download = { side: ep.side, where, knownSize, get, signal: opts.signal, maxResumes: opts.maxResumes ?? MAX_RESUMES };
  const first = offset > 0 ? await reopen(d, offset) : await get(0);
  const length = header(first.headers, "content-length");
  if (offset === 0 && knownSize !== undefined && length !== undefined && Number(length) !== knownSize) {
    await drain(first.body);
    throw new FerryError("SIZE_MISMATCH", `${where}: server announces ${length} bytes, descriptor says ${knownSize}`, {
      side: ep.side,
    });
  }
  // 200 to a Range GET: the server sent the whole blob; the head is dropped as it passes.
  const start = { delivered: offset, skip: offset > 0 && first.status !== 206 ? offset : 0 };
  return Readable.from(chunks(d, first, check, start), { objectMode: false, highWaterMark: 64 * 1024 });
}

/** What a download needs besides its bytes. */
interface Download {
  side: Side | undefined;
  /** `host/repo@digest`, for messages. */
  where: string;
  knownSize: number | undefined;
  /** Opens the blob from `offset` (a Range request when > 0). */
  get: (offset: number) => Promise<Reply>;
  signal: AbortSignal | undefined;
  maxResumes: number;
}

/** Resumes so far, and where the last one started. */
interface Resumes {
  count: number;
  stalls: number;
  lastAt: number;
}

/**
 * The blob's bytes, hashed as they pass, across resumed responses. The last chunk is held back
 * until the digest checks out: a consumer (an upload) never gets the complete bytes of a corrupt
 * blob, so it cannot commit them. The loop over a body does no more per chunk than that.
 */
async function* chunks(d: Download, first: Reply, verifier: Check, start: { delivered: number; skip: number }): AsyncGenerator<Buffer> {
  let pending: Buffer | undefined;
  let current = first;
  let delivered = start.delivered;
  let skip = start.skip;
  const resumes: Resumes = { count: 0, stalls: 0, lastAt: -1 };
  for (;;) {
    const openedAt = delivered;
    let cut: unknown;
    try {
      for await (const c of current.body) {
        let b = c as Buffer;
        if (skip > 0) {
          if (b.byteLength <= skip) {
            skip -= b.byteLength;
            continue;
          }
          b = b.subarray(skip);
          skip = 0;
        }
        verifier.update(b);
        delivered += b.byteLength;
        paceGc(b.byteLength);
        if (pending) yield pending;
        pending = b;
      }
    } catch (err) {
      const resumableStall = isStall(err) && resumes.stalls < MAX_STALL_RESUMES && delivered - openedAt >= STALL_RESUME_MIN_BYTES;
      if (err instanceof FerryError && !resumableStall) throw withSide(err, d.side);
      cut = err;
    }
    const short = d.knownSize !== undefined && delivered < d.knownSize;
    if (cut === undefined && !short) break;
    if (!mayResume(d, cut, delivered, resumes)) break; // let the verifier say what is wrong
    resumes.count++;
    if (isStall(cut)) resumes.stalls++;
    resumes.lastAt = delivered;
    current = await reopen(d, delivered);
    // 200: the server ignored Range; read from the start and drop what was already delivered.
    if (current.status !== 206) skip = delivered;
  }
  try {
    verifier.finish();
  } catch (e) {
    throw withSide(e, d.side);
  }
  if (pending) yield pending;
}

/** After a cut (or a short body, `cut` undefined): true to resume; throws when the cut is final. */
function mayResume(d: Download, cut: unknown, delivered: number, resumes: Resumes): boolean {
  const can = (cut === undefined || isNetworkError(cut) || isStall(cut)) && resumes.count < d.maxResumes && delivered > resumes.lastAt && !d.signal?.aborted;
  if (can) return true;
  if (isStall(cut)) throw withSide(cut, d.side);
  if (cut !== undefined) {
    throw new FerryError("NETWORK", `${d.where}: download cut after ${delivered} bytes: ${(cut as Error).message}`, {
      retryable: true,
      side: d.side,
      cause: cut,
    });
  }
  return false;
}

/** Asks for the rest from `delivered`; a 206 must start exactly there. */
async function reopen(d: Download, delivered: number): Promise<Reply> {
  const res = await d.get(delivered);
  if (res.status !== 206) return res;
  const range = /^bytes (\d+)-/.exec(header(res.headers, "content-range") ?? "");
  if (!range || Number(range[1]) !== delivered) {
    await drain(res.body);
    throw new FerryError("NETWORK", `${d.where}: resume at ${delivered} got Content-Range ${header(res.headers, "content-range") ?? "none"}`, {
      retryable: true,
      side: d.side,
    });
  }
  return res;
}
