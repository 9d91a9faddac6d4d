/**
 * Streaming blob download: follows redirects (Authorization dropped on other hosts), checks the
 * size, hashes while streaming, and resumes a cut download with `Range` from the registry URL
 * (presigned redirect URLs expire). Memory stays flat: chunks pass straight through.
 * A stall (stall.ts) is resumed once, and only when the transfer had been moving: a source that
 * stalls from the start, or again, fails with STALL instead of looping.
 */
import { Readable } from "node:stream";
import { FerryError, withSide } from "../errors.ts";
import { DigestVerifier } from "../oci/digest.ts";
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
export async function blobGet(
  ep: RegistryEndpoint,
  repo: string,
  desc: { digest: string; size: number },
  opts: CallOptions & { maxResumes?: number } = {},
): Promise<Readable> {
  const knownSize = desc.size >= 0 ? desc.size : undefined;
  const verifier = new DigestVerifier(desc.digest, knownSize);
  const where = `${ep.host}/${repo}@${desc.digest}`;
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

  const first = await get(0);
  const length = header(first.headers, "content-length");
  if (knownSize !== undefined && length !== undefined && Number(length) !== knownSize) {
    await drain(first.body);
    throw new FerryError("SIZE_MISMATCH", `${where}: server announces ${length} bytes, descriptor says ${knownSize}`, {
      side: ep.side,
    });
  }
  const maxResumes = opts.maxResumes ?? MAX_RESUMES;

  // The last chunk is held back until the digest checks out: a consumer (an upload) never gets
  // the complete bytes of a corrupt blob, so it cannot commit them.
  let pending: Buffer | undefined;
  async function* chunks(): AsyncGenerator<Buffer> {
    let current = first;
    let delivered = 0;
    let skip = 0;
    let resumes = 0;
    let stallResumes = 0;
    let lastResumeAt = -1;
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
          if (pending) yield pending;
          pending = b;
        }
      } catch (err) {
        const resumableStall = isStall(err) && stallResumes < MAX_STALL_RESUMES && delivered - openedAt >= STALL_RESUME_MIN_BYTES;
        if (err instanceof FerryError && !resumableStall) throw withSide(err, ep.side);
        cut = err;
      }
      const short = knownSize !== undefined && delivered < knownSize;
      if (cut === undefined && !short) break;
      const canResume = (cut === undefined || isNetworkError(cut) || isStall(cut)) && resumes < maxResumes && delivered > lastResumeAt && !opts.signal?.aborted;
      if (!canResume) {
        if (isStall(cut)) throw withSide(cut, ep.side);
        if (cut !== undefined) {
          throw new FerryError("NETWORK", `${where}: download cut after ${delivered} bytes: ${(cut as Error).message}`, {
            retryable: true,
            side: ep.side,
            cause: cut,
          });
        }
        break; // let the verifier say what is wrong
      }
      resumes++;
      if (isStall(cut)) stallResumes++;
      lastResumeAt = delivered;
      current = await get(delivered);
      if (current.status === 206) {
        const range = /^bytes (\d+)-/.exec(header(current.headers, "content-range") ?? "");
        if (!range || Number(range[1]) !== delivered) {
          await drain(current.body);
          throw new FerryError("NETWORK", `${where}: resume at ${delivered} got Content-Range ${header(current.headers, "content-range") ?? "none"}`, {
            retryable: true,
            side: ep.side,
          });
        }
      } else {
        // 200: the server ignored Range; read from the start and drop what was already delivered.
        skip = delivered;
      }
    }
    try {
      verifier.finish();
    } catch (e) {
      throw withSide(e, ep.side);
    }
    if (pending) yield pending;
  }

  return Readable.from(chunks(), { objectMode: false, highWaterMark: 64 * 1024 });
}
