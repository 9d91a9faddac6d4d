/**
 * Manifest operations on a RegistryEndpoint: HEAD (with a GET fallback when the registry omits
 * the digest), GET with the exact bytes verified against a requested digest, PUT and DELETE.
 * Manifest reads are capped.
 */
import { FerryError, RegistryError } from "../errors.ts";
import { digestOf, isDigest, parseDigest } from "../oci/digest.ts";
import { DEFAULT_MAX_MANIFEST_BYTES, type Descriptor, parseManifest, type RawManifest } from "../oci/manifest.ts";
import { bareMediaType, DOCKER_SCHEMA1_SIGNED, MANIFEST_ACCEPT } from "../oci/media-types.ts";
import { Repository } from "../oci/reference.ts";
import type { RegistryEndpoint } from "./endpoint.ts";
import { mapError } from "./error-layer.ts";
import type { CallOptions, Reply } from "./exchange.ts";
import { drain, header, readCapped } from "./transport.ts";

const ACCEPT = MANIFEST_ACCEPT.join(", ");

/**
 * HEAD errors have no body, so the registry's error code is lost. On failure only, ask again
 * with GET to learn it (one request, on the error path), and raise that error instead.
 */
export async function explainHead(ep: RegistryEndpoint, p: Promise<Reply>, path: string, repo: string, opts: CallOptions): Promise<Reply> {
  try {
    return await p;
  } catch (e) {
    if (!(e instanceof RegistryError) || e.ociCodes.length > 0 || e.retryable || e.status < 400) throw e;
    try {
      const res = await ep.send({ ...opts, method: "GET", path, repo, headers: { accept: ACCEPT }, expect: [], retry: false });
      await drain(res.body);
    } catch (detailed) {
      if (detailed instanceof RegistryError && detailed.status === e.status && detailed.ociCodes.length > 0) throw detailed;
    }
    throw e;
  }
}

/** HEAD a manifest: its descriptor, or undefined when the registry does not have it. */
export async function manifestHead(
  ep: RegistryEndpoint,
  repo: string,
  ref: string,
  opts: CallOptions = {},
  maxBytes?: number,
): Promise<Descriptor | undefined> {
  const path = `/v2/${repo}/manifests/${ref}`;
  const res = await explainHead(ep, ep.send({ ...opts, method: "HEAD", path, repo, headers: { accept: ACCEPT }, expect: [200, 404] }), path, repo, opts);
  await drain(res.body);
  if (res.status === 404) return undefined;
  const digest = header(res.headers, "docker-content-digest");
  const mediaType = bareMediaType(header(res.headers, "content-type"));
  const size = Number(header(res.headers, "content-length"));
  if (!digest || !mediaType || !Number.isFinite(size)) {
    // Some registries omit the digest on HEAD: fall back to GET and hash (regclient does too).
    const raw = await manifestGet(ep, repo, ref, opts, maxBytes);
    return { mediaType: raw.mediaType, digest: raw.digest, size: raw.bytes.byteLength };
  }
  return { mediaType, digest, size };
}

/**
 * GET a manifest with its exact bytes, at most `max` of them. By digest the bytes must hash to
 * it; by tag the server's Docker-Content-Digest is not trusted (often wrong), the digest is computed.
 */
export async function manifestGet(
  ep: RegistryEndpoint,
  repo: string,
  ref: string,
  opts: CallOptions = {},
  max = DEFAULT_MAX_MANIFEST_BYTES,
): Promise<RawManifest> {
  const res = await ep.send({ ...opts, method: "GET", path: `/v2/${repo}/manifests/${ref}`, repo, headers: { accept: ACCEPT }, expect: [200] });
  const bytes = await readCapped(res.body, max + 1);
  const where = new Repository(ep.host, repo).address(ref);
  try {
    if (bytes.byteLength > max) {
      throw new FerryError("MANIFEST_TOO_LARGE", `manifest ${where} exceeds the ${max}-byte cap`);
    }
    const raw = parseManifest(bytes, header(res.headers, "content-type"), { maxBytes: max });
    if (isDigest(ref)) {
      const d = parseDigest(ref);
      const got = digestOf(bytes, d.algorithm);
      // A signed schema1 manifest's digest covers its payload without signatures; not ours to copy.
      if (got !== ref && raw.mediaType !== DOCKER_SCHEMA1_SIGNED) {
        throw new FerryError("DIGEST_MISMATCH", `manifest ${where}: content hashes to ${got}`);
      }
      return { ...raw, digest: ref };
    }
    return raw;
  } catch (e) {
    throw mapError(e, ep, "GET", res.url);
  }
}

/** PUT a manifest's raw bytes under a tag or digest; returns the digest of the bytes. */
export async function manifestPut(ep: RegistryEndpoint, repo: string, ref: string, bytes: Buffer, mediaType: string, opts: CallOptions = {}): Promise<string> {
  const res = await ep.send({
    ...opts,
    method: "PUT",
    path: `/v2/${repo}/manifests/${ref}`,
    repo,
    push: true,
    headers: { "content-type": mediaType },
    body: bytes,
    expect: [200, 201, 202, 204],
  });
  await drain(res.body);
  const digest = digestOf(bytes);
  const said = header(res.headers, "docker-content-digest");
  if (said?.startsWith("sha256:") && said !== digest) {
    throw new FerryError("DIGEST_MISMATCH", `${ep.host}/${repo}: registry stored manifest as ${said}, expected ${digest}`, { side: ep.side });
  }
  return digest;
}

/** Deletes a manifest by digest (used by tests and cleanup). */
export async function manifestDelete(ep: RegistryEndpoint, repo: string, digest: string, opts: CallOptions = {}): Promise<void> {
  const res = await ep.send({ ...opts, method: "DELETE", path: `/v2/${repo}/manifests/${digest}`, repo, push: true, expect: [202, 200, 204] });
  await drain(res.body);
}
