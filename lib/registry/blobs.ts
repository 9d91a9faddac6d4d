/**
 * Blob operations on a RegistryEndpoint that move no blob bytes: HEAD and cross-repository
 * mount. Streaming reads are in blob-download.ts, uploads in blob-upload.ts and upload-session.ts.
 */
import { RegistryError } from "../errors.ts";
import { repositoryScope } from "./auth.ts";
import type { RegistryEndpoint } from "./endpoint.ts";
import type { CallOptions, Reply } from "./exchange.ts";
import { explainHead } from "./manifests.ts";
import { drain, header } from "./transport.ts";
import { resolveLocation } from "./upload-location.ts";

/** What a mount did: `mounted`, or an ordinary upload session the registry opened instead (202). */
export type MountResult = { mounted: true } | { mounted: false; location?: string };

/** HEAD a blob: its size (-1 when the registry does not say), or undefined when absent. */
export async function blobHead(ep: RegistryEndpoint, repo: string, digest: string, opts: CallOptions = {}): Promise<number | undefined> {
  const path = `/v2/${repo}/blobs/${digest}`;
  const res = await explainHead(ep, ep.send({ ...opts, method: "HEAD", path, repo, expect: [200, 404] }), path, repo, opts);
  await drain(res.body);
  if (res.status === 404) return undefined;
  const size = Number(header(res.headers, "content-length"));
  return Number.isFinite(size) ? size : -1;
}

/**
 * Cross-repository mount. `mounted: true` when done (201). Otherwise the registry opened an
 * ordinary upload (202, its `location` given to use or cancel) or refused (any error).
 */
export async function blobMount(ep: RegistryEndpoint, repo: string, fromRepo: string, digest: string, opts: CallOptions = {}): Promise<MountResult> {
  let res: Reply;
  try {
    res = await ep.send({
      ...opts,
      method: "POST",
      path: `/v2/${repo}/blobs/uploads/?mount=${digest}&from=${fromRepo}`,
      repo,
      push: true,
      extraScopes: [repositoryScope(fromRepo, false)],
      headers: { "content-length": "0" },
      expect: [201, 202],
    });
  } catch (e) {
    // Harbor answers 401 when the source project is missing; Quay and others vary: fall back.
    if (e instanceof RegistryError && e.status >= 400 && e.status < 500) return { mounted: false };
    throw e;
  }
  await drain(res.body);
  if (res.status === 201) return { mounted: true };
  const loc = header(res.headers, "location");
  return loc ? { mounted: false, location: resolveLocation(loc, res.url) } : { mounted: false };
}
