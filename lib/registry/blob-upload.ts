/**
 * Blob uploads: monolithic PUT (default), one streamed PATCH then PUT, and true chunked PATCH with
 * Content-Range for registries that need it. The retry unit is the whole upload from POST
 * (go-containerregistry does the same): a fresh session and a freshly opened body.
 * Quirks handled: ECR answers PATCH with 201 and stops advancing Range (we track the offset
 * ourselves, and never chunk to ECR); GHCR caps chunks at 4 MiB (416); OCI-Chunk-Min-Length.
 */
import { Readable } from "node:stream";
import { FerryError, RegistryError } from "../errors.ts";
import { digestOf } from "../oci/digest.ts";
import type { RegistryEndpoint } from "./endpoint.ts";
import type { CallOptions } from "./exchange.ts";
import type { HostProfile } from "./host-profile.ts";
import { isRetryable, withRetries } from "./retry.ts";
import { drain, header } from "./transport.ts";
import { appendQuery, resolveLocation } from "./upload-location.ts";
import { blobUploadCancel, blobUploadCommit, blobUploadStart, blobUploadStatus, COMMIT_HEADERS_TIMEOUT_MS } from "./upload-session.ts";

export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;
const MAX_CHUNK = 256 * 1024 * 1024;

/** How blobs are uploaded: one PUT, one streamed PATCH then PUT, or Content-Range chunks. */
export type UploadMode = "monolithic" | "patch" | "chunked";

/** A client's upload settings. */
export interface UploadSettings {
  /** Default `monolithic`; never `chunked` to a host whose profile says so (ECR). */
  mode?: UploadMode | undefined;
  /** Chunk size for `chunked` uploads. Default 4 MiB (GHCR's cap); raised to OCI-Chunk-Min-Length. */
  chunkSize?: number | undefined;
  /** Try `POST ?digest=` with the body for small blobs (capability-detected: 202 falls back). */
  singlePost?: boolean | undefined;
}

/** Opens the blob's bytes; called again for each attempt. */
export type BodyOpener = () => Promise<Readable | AsyncIterable<Uint8Array>>;

/** Upload mode actually used for a host with this profile (ECR never gets chunked uploads). */
export function effectiveUploadMode(profile: HostProfile, mode: UploadMode | undefined): UploadMode {
  const m = mode ?? "monolithic";
  return m === "chunked" && profile.neverChunk ? "monolithic" : m;
}

/** Result of an upload attempt loop. */
export interface UploadOutcome {
  attempts: number;
}

/**
 * Uploads a blob of known digest and size. `location` is an upload session already open (from a
 * mount answered 202); it is used for the first attempt only.
 */
export async function blobPut(
  ep: RegistryEndpoint,
  settings: UploadSettings,
  repo: string,
  desc: { digest: string; size: number },
  open: BodyOpener,
  opts: CallOptions & { location?: string } = {},
): Promise<UploadOutcome> {
  const mode = effectiveUploadMode(ep.profile, settings.mode);
  let location = opts.location;
  const attempt = async (n: number): Promise<UploadOutcome> => {
    let session: string | undefined;
    try {
      const start = location ? { location, minChunk: undefined } : await blobUploadStart(ep, repo, opts);
      location = undefined;
      session = start.location;
      const body = await open();
      if (mode === "monolithic") await putMonolithic(ep, repo, session, desc, body, opts);
      else if (mode === "patch") await patchThenPut(ep, repo, session, desc, body, opts);
      else await putChunked(ep, repo, session, desc, body, chunkLimit(ep.profile, settings, start.minChunk), start.minChunk, opts);
      return { attempts: n };
    } catch (err) {
      if (session) void blobUploadCancel(ep, session, repo);
      throw err;
    }
  };
  return withRetries(attempt, ep.retry, { signal: opts.signal, deadline: opts.deadline, retryable: uploadRetryable });
}

/** The first chunk size: the configured one, raised to the server's minimum, capped by the profile. */
export function chunkLimit(profile: HostProfile, settings: UploadSettings, minChunk: number | undefined): number {
  const limit = Math.min(MAX_CHUNK, Math.max(settings.chunkSize ?? DEFAULT_CHUNK_SIZE, minChunk ?? 0));
  return profile.maxChunkBytes ? Math.min(limit, profile.maxChunkBytes) : limit;
}

function uploadRetryable(err: unknown): boolean {
  if (err instanceof RegistryError) {
    // Our bytes are wrong: another try sends the same bytes.
    if (err.hasCode("DIGEST_INVALID") || err.hasCode("SIZE_INVALID")) return false;
    if (err.hasCode("BLOB_UPLOAD_INVALID") || err.hasCode("BLOB_UPLOAD_UNKNOWN")) return true;
  }
  if (err instanceof FerryError && (err.code === "DIGEST_MISMATCH" || err.code === "SIZE_MISMATCH")) return false;
  return isRetryable(err);
}

async function putMonolithic(
  ep: RegistryEndpoint,
  repo: string,
  location: string,
  desc: { digest: string; size: number },
  body: Readable | AsyncIterable<Uint8Array>,
  opts: CallOptions,
): Promise<void> {
  // No Content-Range here: some registries then apply chunk caps (cirruslabs/tart#179).
  const res = await ep.send({
    ...opts,
    method: "PUT",
    path: appendQuery(location, "digest", desc.digest),
    repo,
    push: true,
    headers: { "content-type": "application/octet-stream", "content-length": String(desc.size) },
    stream: body,
    expect: [201, 204],
    headersTimeout: COMMIT_HEADERS_TIMEOUT_MS,
  });
  await drain(res.body);
}

async function patchThenPut(
  ep: RegistryEndpoint,
  repo: string,
  location: string,
  desc: { digest: string; size: number },
  body: Readable | AsyncIterable<Uint8Array>,
  opts: CallOptions,
): Promise<void> {
  const res = await ep.send({
    ...opts,
    method: "PATCH",
    path: location,
    repo,
    push: true,
    headers: { "content-type": "application/octet-stream", "content-length": String(desc.size) },
    stream: body,
    expect: [202, 201, 204],
    headersTimeout: COMMIT_HEADERS_TIMEOUT_MS,
  });
  await drain(res.body);
  const next = header(res.headers, "location");
  await blobUploadCommit(ep, repo, next ? resolveLocation(next, res.url) : location, desc.digest, opts);
}

/** Splits a stream into buffers of exactly `size` bytes (the last may be shorter). */
export async function* fixedChunks(body: Readable | AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    let b = Buffer.isBuffer(c) ? c : Buffer.from(c);
    while (b.byteLength > 0) {
      const take = Math.min(size - n, b.byteLength);
      parts.push(b.subarray(0, take));
      n += take;
      b = b.subarray(take);
      if (n === size) {
        yield Buffer.concat(parts, n);
        parts = [];
        n = 0;
      }
    }
  }
  if (n > 0) yield Buffer.concat(parts, n);
}

async function putChunked(
  ep: RegistryEndpoint,
  repo: string,
  location: string,
  desc: { digest: string; size: number },
  body: Readable | AsyncIterable<Uint8Array>,
  firstLimit: number,
  minChunk: number | undefined,
  opts: CallOptions,
): Promise<void> {
  let limit = firstLimit;
  let loc = location;
  let offset = 0; // tracked here: ECR's Range stops advancing after the first PATCH
  for await (const chunk of fixedChunks(body, limit)) {
    let rest = chunk;
    while (rest.byteLength > 0) {
      const piece = rest.subarray(0, limit);
      const end = offset + piece.byteLength - 1;
      const res = await ep.send({
        ...opts,
        method: "PATCH",
        path: loc,
        repo,
        push: true,
        headers: {
          "content-type": "application/octet-stream",
          "content-range": `${offset}-${end}`,
          "content-length": String(piece.byteLength),
        },
        body: piece,
        expect: [202, 201, 204, 416],
        retry: false,
      });
      await drain(res.body);
      if (res.status === 416) {
        const have = await blobUploadStatus(ep, repo, loc, opts);
        if (have.offset > offset && have.offset <= end + 1) {
          // The server has part of this piece: send the rest.
          rest = rest.subarray(have.offset - offset);
          offset = have.offset;
          loc = have.location;
          continue;
        }
        if (have.offset === offset && piece.byteLength > 1024 * 1024 && (minChunk === undefined || piece.byteLength / 2 >= minChunk)) {
          limit = Math.ceil(piece.byteLength / 2); // a chunk cap (GHCR: 4 MiB): smaller pieces
          loc = have.location;
          continue;
        }
        throw new FerryError("REGISTRY", `${ep.host}/${repo}: chunk ${offset}-${end} refused (416), server has ${have.offset} bytes`, {
          side: ep.side,
          retryable: true,
        });
      }
      const next = header(res.headers, "location");
      if (next) loc = resolveLocation(next, res.url);
      offset = end + 1;
      rest = rest.subarray(piece.byteLength);
    }
  }
  await blobUploadCommit(ep, repo, loc, desc.digest, opts);
}

/**
 * Uploads a small blob held in memory. With `singlePostUpload`, tries the one-request form
 * (`POST ?digest=` with the body); a 202 means unsupported and the bytes go to the Location.
 */
export async function blobPutBytes(ep: RegistryEndpoint, settings: UploadSettings, repo: string, bytes: Buffer, opts: CallOptions = {}): Promise<string> {
  const digest = digestOf(bytes);
  if (settings.singlePost) {
    const res = await ep.send({
      ...opts,
      method: "POST",
      path: `/v2/${repo}/blobs/uploads/?digest=${digest}`,
      repo,
      push: true,
      headers: { "content-type": "application/octet-stream" },
      body: bytes,
      expect: [201, 202],
    });
    await drain(res.body);
    if (res.status === 201) return digest;
    const loc = header(res.headers, "location");
    if (loc) {
      await putMonolithic(ep, repo, resolveLocation(loc, res.url), { digest, size: bytes.byteLength }, Readable.from([bytes]), opts);
      return digest;
    }
  }
  await blobPut(ep, settings, repo, { digest, size: bytes.byteLength }, async () => Readable.from([bytes]), opts);
  return digest;
}
