/**
 * An upload session's steps on the wire (distribution spec, "pushing blobs"): open one (POST),
 * send a chunk (PATCH with Content-Range), ask how much it holds (GET → Range), commit it
 * (PUT ?digest=) and cancel it (DELETE). The
 * strategies that send the bytes between open and commit are in blob-upload.ts.
 */
import { FerryError } from "../errors.ts";
import type { RegistryEndpoint } from "./endpoint.ts";
import type { CallOptions } from "./exchange.ts";
import { drain, header } from "./transport.ts";
import { appendQuery, resolveLocation } from "./upload-location.ts";

/** Registries hash the whole blob before answering the commit PUT: give them time. */
export const COMMIT_HEADERS_TIMEOUT_MS = 15 * 60 * 1000;

/** Opens an upload session: its Location, and the server's OCI-Chunk-Min-Length if it sets one. */
export async function blobUploadStart(ep: RegistryEndpoint, repo: string, opts: CallOptions): Promise<{ location: string; minChunk: number | undefined }> {
  const res = await ep.send({
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
  if (!loc) throw new FerryError("REGISTRY", `${ep.host}/${repo}: upload session without Location`, { side: ep.side, retryable: true });
  const min = Number(header(res.headers, "oci-chunk-min-length"));
  return { location: resolveLocation(loc, res.url), minChunk: Number.isFinite(min) && min > 0 ? min : undefined };
}

/** Commits the session under `digest` (an empty PUT, not retried on its own: the whole upload is the retry unit). */
export async function blobUploadCommit(ep: RegistryEndpoint, repo: string, location: string, digest: string, opts: CallOptions): Promise<void> {
  const res = await ep.send({
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

/** `GET <location>` → 204 with `Range: 0-<last>`: how many bytes the server holds. */
export async function blobUploadStatus(ep: RegistryEndpoint, repo: string, location: string, opts: CallOptions): Promise<{ offset: number; location: string }> {
  const res = await ep.send({ ...opts, method: "GET", path: location, repo, push: true, expect: [204, 200] });
  await drain(res.body);
  const m = /^(?:bytes=)?(\d+)-(\d+)$/.exec(header(res.headers, "range") ?? "");
  const next = header(res.headers, "location");
  const last = m ? Number(m[2]) : -1;
  // distribution says 0-0 for both 0 and 1 byte held; 0-0 is taken as nothing held.
  const offset = m && !(m[1] === "0" && m[2] === "0") ? last + 1 : 0;
  return { offset, location: next ? resolveLocation(next, res.url) : location };
}

/**
 * Sends `bytes` at `offset` of the session (`PATCH` with `Content-Range`), not retried on its own:
 * the server may hold part of it (ask `blobUploadStatus`). Resolves to the session's next Location.
 */
export async function blobUploadChunk(ep: RegistryEndpoint, repo: string, location: string, offset: number, bytes: Buffer, opts: CallOptions): Promise<string> {
  const res = await ep.send({
    ...opts,
    method: "PATCH",
    path: location,
    repo,
    push: true,
    headers: {
      "content-type": "application/octet-stream",
      "content-range": `${offset}-${offset + bytes.byteLength - 1}`,
      "content-length": String(bytes.byteLength),
    },
    body: bytes,
    expect: [202, 201, 204],
    retry: false,
  });
  await drain(res.body);
  const next = header(res.headers, "location");
  return next ? resolveLocation(next, res.url) : location;
}

/** Cancels an upload session; failures are ignored (the registry purges stale sessions). */
export async function blobUploadCancel(ep: RegistryEndpoint, location: string, repo: string): Promise<void> {
  try {
    const res = await ep.send({ method: "DELETE", path: location, repo, push: true, expect: [200, 202, 204, 404], retry: false });
    await drain(res.body);
  } catch {
    // best effort
  }
}
