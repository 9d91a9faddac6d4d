/**
 * Manifest operations on a RegistryEndpoint: HEAD (with a GET fallback when the registry omits
 * the digest), GET with the exact bytes verified against a requested digest, PUT (with the
 * registry's `OCI-Subject` answer) and DELETE. Manifest reads are capped.
 */
import { FerryError, RegistryError } from "../errors.ts";
import { digestOf, isDigest, parseDigest } from "../oci/digest.ts";
import { DEFAULT_MAX_MANIFEST_BYTES, type Descriptor, manifestDigestOf, parseManifest, type RawManifest } from "../oci/manifest.ts";
import { bareMediaType, DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED, MANIFEST_ACCEPT, OCI_ARTIFACT_MANIFEST } from "../oci/media-types.ts";
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
  const where = new Repository(ep.host, repo).address(ref);
  const bytes = await readManifestBody(ep, res, max, `manifest ${where}`);
  try {
    const raw = parseManifest(bytes, header(res.headers, "content-type"), { maxBytes: max });
    if (isDigest(ref)) {
      const d = parseDigest(ref);
      // A signed schema 1 manifest's digest is its payload's, without the signatures the registry just added.
      const got = d.algorithm === "sha256" ? raw.digest : manifestDigestOf(bytes, d.algorithm);
      if (got !== ref) throw new FerryError("DIGEST_MISMATCH", `manifest ${where}: content hashes to ${got}`);
      return { ...raw, digest: ref };
    }
    return raw;
  } catch (e) {
    throw mapError(e, ep, "GET", res.url);
  }
}

/**
 * Reads a manifest-like body (a manifest, a referrers index) of at most `max` bytes; a longer one
 * fails with MANIFEST_TOO_LARGE naming `what`, on the endpoint's side.
 */
export async function readManifestBody(ep: RegistryEndpoint, res: Reply, max: number, what: string): Promise<Buffer> {
  const bytes = await readCapped(res.body, max + 1);
  if (bytes.byteLength > max) {
    throw mapError(new FerryError("MANIFEST_TOO_LARGE", `${what} exceeds the ${max}-byte cap`), ep, "GET", res.url);
  }
  return bytes;
}

/** What a manifest PUT did: the digest of the bytes, and the `OCI-Subject` the registry answered. */
export interface ManifestPutResult {
  digest: string;
  /**
   * The subject digest the registry says it indexed (`OCI-Subject`). Absent after pushing a
   * manifest with a `subject`: the registry did not process it, the client keeps the referrers
   * fallback tag itself (distribution-spec "Pushing Manifests with Subject").
   */
  subject?: string;
}

/** PUT a manifest's raw bytes under a tag or digest; returns the digest of the bytes. */
export async function manifestPut(ep: RegistryEndpoint, repo: string, ref: string, bytes: Buffer, mediaType: string, opts: CallOptions = {}): Promise<string> {
  return (await manifestPutResult(ep, repo, ref, bytes, mediaType, opts)).digest;
}

/** PUT a manifest's raw bytes; returns their digest and the registry's `OCI-Subject` answer, if any. */
export async function manifestPutResult(
  ep: RegistryEndpoint,
  repo: string,
  ref: string,
  bytes: Buffer,
  mediaType: string,
  opts: CallOptions = {},
): Promise<ManifestPutResult> {
  let res: Reply;
  const schema1 = mediaType === DOCKER_SCHEMA1 || mediaType === DOCKER_SCHEMA1_SIGNED;
  try {
    res = await ep.send({
      ...opts,
      method: "PUT",
      path: `/v2/${repo}/manifests/${ref}`,
      repo,
      push: true,
      headers: { "content-type": mediaType },
      body: bytes,
      expect: [200, 201, 202, 204],
      // distribution 2.8 refuses schema 1 with a 500: retrying that would only repeat the refusal.
      ...(schema1 ? { retry: false } : {}),
    });
  } catch (e) {
    throw refusedType(e, ep, repo, mediaType);
  }
  await drain(res.body);
  const digest = schema1 ? manifestDigestOf(bytes) : digestOf(bytes);
  const said = header(res.headers, "docker-content-digest");
  if (said?.startsWith("sha256:") && said !== digest) {
    throw new FerryError("DIGEST_MISMATCH", `${ep.host}/${repo}: registry stored manifest as ${said}, expected ${digest}`, { side: ep.side });
  }
  const subject = header(res.headers, "oci-subject")?.trim();
  return { digest, ...(subject && isDigest(subject) ? { subject } : {}) };
}

/**
 * A registry that does not know the withdrawn OCI 1.1.0-rc artifact manifest refuses its PUT:
 * distribution 2.8 answers 400 MANIFEST_INVALID, others 415 or UNSUPPORTED. One that does not
 * take schema 1 answers the same, except distribution 2.8 (schema1 disabled, its default): 500
 * UNKNOWN with an empty detail (`ErrSchemaV1Unsupported` has no error code). Say so, with a
 * stable code, instead of a generic REGISTRY error; any other failure passes unchanged.
 */
function refusedType(e: unknown, ep: RegistryEndpoint, repo: string, mediaType: string): unknown {
  const schema1 = mediaType === DOCKER_SCHEMA1 || mediaType === DOCKER_SCHEMA1_SIGNED;
  if ((mediaType !== OCI_ARTIFACT_MANIFEST && !schema1) || !(e instanceof RegistryError)) return e;
  const refused =
    e.status === 415 ||
    (e.status === 400 && (e.hasCode("MANIFEST_INVALID") || e.hasCode("UNSUPPORTED"))) ||
    (schema1 && (e.status === 405 || (e.status === 500 && e.hasCode("UNKNOWN"))));
  if (!refused) return e;
  const what = schema1 ? "Docker schema 1 manifests" : "OCI artifact manifests";
  return new FerryError("UNSUPPORTED", `${ep.host}/${repo} does not accept ${what} (${mediaType}, HTTP ${e.status})`, {
    side: "destination",
    cause: e,
  });
}

/** Deletes a manifest by digest (used by tests and cleanup). */
export async function manifestDelete(ep: RegistryEndpoint, repo: string, digest: string, opts: CallOptions = {}): Promise<void> {
  const res = await ep.send({ ...opts, method: "DELETE", path: `/v2/${repo}/manifests/${digest}`, repo, push: true, expect: [202, 200, 204] });
  await drain(res.body);
}
