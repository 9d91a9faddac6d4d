/**
 * The OCI 1.1 referrers API on a RegistryEndpoint: `GET /v2/<name>/referrers/<digest>`, page by
 * page (`Link: <…>; rel="next"`), filtered by artifactType on the server when it says so
 * (`OCI-Filters-Applied`), else here. Whether the registry has the API at all is part of the
 * answer: a client that gets `supported: false` keeps the referrers fallback tag itself
 * (distribution-spec "Listing Referrers"; go-containerregistry `referrers.go`).
 */
import { FerryError } from "../errors.ts";
import { parseDigest } from "../oci/digest.ts";
import { DEFAULT_MAX_MANIFEST_BYTES, type Descriptor, parseManifest } from "../oci/manifest.ts";
import { bareMediaType, OCI_INDEX } from "../oci/media-types.ts";
import type { RegistryEndpoint } from "./endpoint.ts";
import { mapError } from "./error-layer.ts";
import type { CallOptions, Reply } from "./exchange.ts";
import { readManifestBody } from "./manifests.ts";
import { nextLink } from "./tags.ts";
import { drain, header } from "./transport.ts";

/** Per-call controls of a referrers listing: only referrers of these artifact types (any of them). */
export type ReferrersOptions = CallOptions & { artifactTypes?: string[] };

/** The registry's referrers of a digest; `supported: false` (and no descriptors) when it has no referrers API. */
export interface ReferrersList {
  supported: boolean;
  descriptors: Descriptor[];
}

/** Answers that mean "no referrers API here": 404 per the spec, 400 and 406 as go-containerregistry also reads them. */
const NOT_SUPPORTED = [400, 404, 406];
/** A registry that keeps sending `next` links is not followed past this many pages. */
export const MAX_REFERRERS_PAGES = 100;

/**
 * Lists the referrers of `digest` in `repo`. With one artifact type the server is asked to filter;
 * with several it is asked for all of them. Either way, unless the server answered
 * `OCI-Filters-Applied: artifactType`, the descriptors are filtered here. Each page is capped at `max` bytes.
 */
export async function referrersList(
  ep: RegistryEndpoint,
  repo: string,
  digest: string,
  opts: ReferrersOptions = {},
  max = DEFAULT_MAX_MANIFEST_BYTES,
): Promise<ReferrersList> {
  parseDigest(digest); // a digest goes into the path: refuse anything else before sending it
  const { artifactTypes, ...call } = opts;
  const types = artifactTypes ?? [];
  const query = types.length === 1 ? `?artifactType=${encodeURIComponent(types[0] as string)}` : "";
  let path: string | undefined = `/v2/${repo}/referrers/${digest}${query}`;
  const descriptors: Descriptor[] = [];
  const seen = new Set<string>();
  for (let page = 1; path && !seen.has(path); page++) {
    if (page > MAX_REFERRERS_PAGES) {
      throw new FerryError("REGISTRY", `${ep.host}/${repo}: referrers of ${digest} run past ${MAX_REFERRERS_PAGES} pages`, { side: ep.side });
    }
    seen.add(path);
    const res = await ep.send({ ...call, method: "GET", path, repo, headers: { accept: OCI_INDEX }, expect: page === 1 ? [200, ...NOT_SUPPORTED] : [200] });
    if (page === 1 && !isIndexAnswer(res)) {
      await drain(res.body);
      return { supported: false, descriptors: [] };
    }
    descriptors.push(...(await readPage(ep, res, types, max, `referrers of ${ep.host}/${repo}@${digest} (page ${page})`)));
    path = nextLink(header(res.headers, "link"), res.url);
  }
  return { supported: true, descriptors };
}

/** The referrers API answered: 200 with an OCI index; anything else (404, a 200 HTML page) means it has none. */
function isIndexAnswer(res: Reply): boolean {
  return res.status === 200 && bareMediaType(header(res.headers, "content-type")) === OCI_INDEX;
}

/** One page's descriptors, filtered to `types` unless the server says it did. */
async function readPage(ep: RegistryEndpoint, res: Reply, types: string[], max: number, what: string): Promise<Descriptor[]> {
  if (!isIndexAnswer(res)) {
    await drain(res.body);
    throw new FerryError("MANIFEST_INVALID", `${what} is ${header(res.headers, "content-type") ?? "untyped"}, not an OCI index`, { side: ep.side });
  }
  const bytes = await readManifestBody(ep, res, max, what);
  let entries: Descriptor[];
  try {
    const m = parseManifest(bytes, OCI_INDEX, { maxBytes: max }).manifest;
    if (m.kind !== "index") throw new FerryError("MANIFEST_INVALID", `${what} is not an OCI index`);
    entries = m.manifests;
  } catch (e) {
    throw mapError(e, ep, "GET", res.url);
  }
  // Only a filter we asked for can have been applied: with several types we asked for all.
  const filterHere = types.length > 0 && !(types.length === 1 && serverFiltered(res));
  const kept = filterHere ? entries.filter((d) => d.artifactType !== undefined && types.includes(d.artifactType)) : entries;
  return kept.map(referrer);
}

/** The server applied the artifactType filter (`OCI-Filters-Applied: artifactType`, possibly among others). */
function serverFiltered(res: Reply): boolean {
  const applied = header(res.headers, "oci-filters-applied") ?? "";
  return applied.split(",").some((f) => f.trim() === "artifactType");
}

/** What a referrers list says of a referrer: mediaType, digest, size, artifactType, annotations. */
function referrer(d: Descriptor): Descriptor {
  return {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    ...(d.artifactType !== undefined ? { artifactType: d.artifactType } : {}),
    ...(d.annotations !== undefined ? { annotations: d.annotations } : {}),
  };
}
