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
import type { CallOptions, RegistryClient, UploadMode } from "./client.ts";
import { appendQuery, resolveLocation } from "./upload-location.ts";
import { isRetryable, nextDelay, sleep } from "./retry.ts";
import type { HostProfile } from "./host-profile.ts";
import { drain, header } from "./transport.ts";

export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;
const MAX_CHUNK = 256 * 1024 * 1024;
/** Registries hash the whole blob before answering the commit PUT: give them time. */
const COMMIT_HEADERS_TIMEOUT_MS = 15 * 60 * 1000;

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
  client: RegistryClient,
  repo: string,
  desc: { digest: string; size: number },
  open: BodyOpener,
  opts: CallOptions & { location?: string } = {},
): Promise<UploadOutcome> {
  const mode = effectiveUploadMode(client.profile, client.options.uploadMode);
  let location = opts.location;
  for (let attempt = 1; ; attempt++) {
    let session: string | undefined;
    try {
      const start = location ? { location, minChunk: undefined } : await startSession(client, repo, opts);
      location = undefined;
      session = start.location;
      const body = await open();
      if (mode === "monolithic") await putMonolithic(client, repo, session, desc, body, opts);
      else if (mode === "patch") await patchThenPut(client, repo, session, desc, body, opts);
      else await putChunked(client, repo, session, desc, body, start.minChunk, opts);
      return { attempts: attempt };
    } catch (err) {
      if (session) void client.blobUploadCancel(session, repo);
      const delay = uploadRetryable(err) ? nextDelay(err, attempt, client.retry, opts.deadline) : undefined;
      if (delay === undefined) throw err;
      await sleep(delay, opts.signal);
    }
  }
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

async function startSession(client: RegistryClient, repo: string, opts: CallOptions): Promise<{ location: string; minChunk: number | undefined }> {
  const res = await client.request({
    ...opts,
    method: "POST",
    path: `/v2/${repo}/blobs/uploads/`,
    repo,
    push: true,
    headers: { "content-length": "0" },
    expect: [202],
    retry: true, // opening a session has no effect until data is sent
  });
  await drain(res.body);
  const loc = header(res.headers, "location");
  if (!loc) throw new FerryError("REGISTRY", `${client.host}/${repo}: upload session without Location`, { side: client.side, retryable: true });
  const min = Number(header(res.headers, "oci-chunk-min-length"));
  return { location: resolveLocation(loc, res.url), minChunk: Number.isFinite(min) && min > 0 ? min : undefined };
}

async function putMonolithic(
  client: RegistryClient,
  repo: string,
  location: string,
  desc: { digest: string; size: number },
  body: Readable | AsyncIterable<Uint8Array>,
  opts: CallOptions,
): Promise<void> {
  // No Content-Range here: some registries then apply chunk caps (cirruslabs/tart#179).
  const res = await client.request({
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
  client: RegistryClient,
  repo: string,
  location: string,
  desc: { digest: string; size: number },
  body: Readable | AsyncIterable<Uint8Array>,
  opts: CallOptions,
): Promise<void> {
  const res = await client.request({
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
  await commit(client, repo, next ? resolveLocation(next, res.url) : location, desc.digest, opts);
}

async function commit(client: RegistryClient, repo: string, location: string, digest: string, opts: CallOptions): Promise<void> {
  const res = await client.request({
    ...opts,
    method: "PUT",
    path: appendQuery(location, "digest", digest),
    repo,
    push: true,
    headers: { "content-length": "0" },
    body: Buffer.alloc(0),
    expect: [201, 204],
    retry: false,
    headersTimeout: COMMIT_HEADERS_TIMEOUT_MS,
  });
  await drain(res.body);
}

/** Splits a stream into buffers of exactly `size` bytes (the last may be shorter). */
async function* fixedChunks(body: Readable | AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
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
  client: RegistryClient,
  repo: string,
  location: string,
  desc: { digest: string; size: number },
  body: Readable | AsyncIterable<Uint8Array>,
  minChunk: number | undefined,
  opts: CallOptions,
): Promise<void> {
  let limit = Math.min(MAX_CHUNK, Math.max(client.options.chunkSize ?? DEFAULT_CHUNK_SIZE, minChunk ?? 0));
  if (client.profile.maxChunkBytes) limit = Math.min(limit, client.profile.maxChunkBytes);
  let loc = location;
  let offset = 0; // tracked here: ECR's Range stops advancing after the first PATCH
  for await (const chunk of fixedChunks(body, limit)) {
    let rest = chunk;
    while (rest.byteLength > 0) {
      const piece = rest.subarray(0, limit);
      const end = offset + piece.byteLength - 1;
      const res = await client.request({
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
        const have = await uploadStatus(client, repo, loc, opts);
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
        throw new FerryError("REGISTRY", `${client.host}/${repo}: chunk ${offset}-${end} refused (416), server has ${have.offset} bytes`, {
          side: client.side,
          retryable: true,
        });
      }
      const next = header(res.headers, "location");
      if (next) loc = resolveLocation(next, res.url);
      offset = end + 1;
      rest = rest.subarray(piece.byteLength);
    }
  }
  await commit(client, repo, loc, desc.digest, opts);
}

/** `GET <location>` → 204 with `Range: 0-<last>`: how many bytes the server holds. */
async function uploadStatus(client: RegistryClient, repo: string, location: string, opts: CallOptions): Promise<{ offset: number; location: string }> {
  const res = await client.request({ ...opts, method: "GET", path: location, repo, push: true, expect: [204, 200] });
  await drain(res.body);
  const m = /^(?:bytes=)?(\d+)-(\d+)$/.exec(header(res.headers, "range") ?? "");
  const next = header(res.headers, "location");
  const last = m ? Number(m[2]) : -1;
  // distribution says 0-0 for both 0 and 1 byte held; 0-0 is taken as nothing held.
  const offset = m && !(m[1] === "0" && m[2] === "0") ? last + 1 : 0;
  return { offset, location: next ? resolveLocation(next, res.url) : location };
}

/**
 * Uploads a small blob held in memory. With `singlePostUpload`, tries the one-request form
 * (`POST ?digest=` with the body); a 202 means unsupported and the bytes go to the Location.
 */
export async function blobPutBytes(client: RegistryClient, repo: string, bytes: Buffer, opts: CallOptions = {}): Promise<string> {
  const digest = digestOf(bytes);
  if (client.options.singlePostUpload) {
    const res = await client.request({
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
      await putMonolithic(client, repo, resolveLocation(loc, res.url), { digest, size: bytes.byteLength }, Readable.from([bytes]), opts);
      return digest;
    }
  }
  await blobPut(client, repo, { digest, size: bytes.byteLength }, async () => Readable.from([bytes]), opts);
  return digest;
}
