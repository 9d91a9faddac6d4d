/**
 * Listing operations on a RegistryEndpoint: a repository's tags and the registry's catalog,
 * page by page, following `Link: <…>; rel="next"` (never counting results; a repeated page stops).
 */
import type { RegistryEndpoint } from "./endpoint.ts";
import type { CallOptions } from "./exchange.ts";
import { drain, header, readCapped } from "./transport.ts";
import { resolveLocation } from "./upload-location.ts";

/** Per-call controls of a listing. */
export type ListOptions = CallOptions & { pageSize?: number };

const MAX_PAGE_BYTES = 16 * 1024 * 1024;
/** Registries cap a page (ECR rejects n > 1000). */
const MAX_PAGE_SIZE = 1000;

/** Lists tags page by page; a repository the registry does not know has none. */
export async function* tagList(ep: RegistryEndpoint, repo: string, opts: ListOptions = {}): AsyncGenerator<string[]> {
  let path: string | undefined = `/v2/${repo}/tags/list?n=${Math.min(opts.pageSize ?? MAX_PAGE_SIZE, MAX_PAGE_SIZE)}`;
  const seen = new Set<string>();
  while (path) {
    if (seen.has(path)) break;
    seen.add(path);
    const res = await ep.send({ ...opts, method: "GET", path, repo, expect: [200, 404] });
    if (res.status === 404) {
      await drain(res.body);
      return;
    }
    const body = JSON.parse((await readCapped(res.body, MAX_PAGE_BYTES)).toString("utf8")) as { tags?: string[] | null };
    yield body.tags ?? [];
    path = nextLink(header(res.headers, "link"), res.url);
  }
}

/** All tags of a repository. */
export async function tagListAll(ep: RegistryEndpoint, repo: string, opts: ListOptions = {}): Promise<string[]> {
  const all: string[] = [];
  for await (const page of tagList(ep, repo, opts)) all.push(...page);
  return all;
}

/** Lists repository names from `/v2/_catalog`, page by page. */
export async function* catalogList(ep: RegistryEndpoint, opts: ListOptions = {}): AsyncGenerator<string[]> {
  let path: string | undefined = `/v2/_catalog?n=${Math.min(opts.pageSize ?? MAX_PAGE_SIZE, MAX_PAGE_SIZE)}`;
  const seen = new Set<string>();
  while (path && !seen.has(path)) {
    seen.add(path);
    const res = await ep.send({ ...opts, method: "GET", path, extraScopes: ["registry:catalog:*"], expect: [200] });
    const body = JSON.parse((await readCapped(res.body, MAX_PAGE_BYTES)).toString("utf8")) as { repositories?: string[] | null };
    yield body.repositories ?? [];
    path = nextLink(header(res.headers, "link"), res.url);
  }
}

/** The `rel="next"` target of a Link header, resolved against the page's URL. */
export function nextLink(link: string | undefined, against: URL): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(",")) {
    const m = /<([^>]*)>\s*;(.*)$/.exec(part.trim());
    if (m?.[1] && /rel="?next"?/i.test(m[2] ?? "")) return resolveLocation(m[1], against);
  }
  return undefined;
}
