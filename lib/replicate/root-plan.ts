/**
 * The one root planner: resolves a source reference, keeps its root verbatim or filters it to
 * the wanted platforms, and decides per destination whether the tag is up to date, replaced, or
 * merged with the destination's own platforms. `ferry copy`, the pipeline's plan and merge, and
 * backfill all decide here (oras-go's resolve → map root → copy graph → tag).
 */
import { FerryError, onSide, RegistryError } from "../errors.ts";
import type { AnyManifest, Descriptor, Platform, RawManifest } from "../oci/manifest.ts";
import { parseManifest } from "../oci/manifest.ts";
import { isIndexType } from "../oci/media-types.ts";
import { formatPlatform, parsePlatformLoose, platformMatches } from "../oci/platform.ts";
import { schema1Platform } from "../oci/schema1.ts";
import type { CallOptions } from "../registry/client.ts";
import { filterIndex, type IndexPlan, isAttestation, mergeWithDestination, oneEntryIndex, verbatim } from "./index-build.ts";
import type { ImageSink, ImageSource } from "./ports.ts";

/** Manifest bytes to push, exactly as they will be pushed. */
export interface Root {
  bytes: Buffer;
  digest: string;
  mediaType: string;
  /** False when these are the source's own bytes. */
  rebuilt: boolean;
}

/** The source's root after any platform filter. */
export interface SourceRoot extends Root {
  /** The digest the source reference resolved to (before any filter). */
  sourceDigest: string;
  /** An index's entries to copy (after the filter), or undefined for a single manifest. */
  children: Descriptor[] | undefined;
  /** Platforms of the image(s), attestations left out. */
  platforms: string[];
  /** The root parsed. */
  manifest: AnyManifest;
  /** Blobs the root needs that ferry made (a converted schema 1 image's config): pushed from these bytes. */
  generated?: Array<{ descriptor: Descriptor; bytes: Buffer }>;
  /** What ferry changed on the way (a conversion), for the result. */
  converted?: string;
}

/** What one destination needs. */
export interface DestinationPlan {
  /** Index into the request's destinations. */
  index: number;
  tag?: string;
  /** The digest the tag holds now, when it exists. */
  current?: string;
  /** `undefined` only when HEADs alone decided (see {@link PlanRootRequest.decideByHead}). */
  root?: Root;
  /** Entries kept from the destination's own index (a merge): already there, not copied. */
  fromDestination: Descriptor[];
  upToDate: boolean;
  /** What a person should know about this destination (a tag replaced, not merged). */
  warnings?: string[];
  /** Planning this destination failed (only with `isolate`): the others go on. */
  error?: unknown;
}

export interface RootPlan {
  /** Undefined only when HEADs alone decided every destination. */
  source: SourceRoot | undefined;
  sourceDigest: string;
  mediaType: string;
  destinations: DestinationPlan[];
  warnings: string[];
}

/** The part of a sink the planner reads. */
export type ManifestReader = Pick<ImageSink, "manifestHead" | "manifestGet" | "address">;

export interface PlanRootRequest {
  source: ImageSource;
  /** Tag or digest at the source. */
  ref: string;
  destinations: Array<{ sink: ManifestReader; tag?: string }>;
  platforms?: Platform[];
  merge?: boolean;
  /** A single-platform image becomes a one-entry index with its platform (with `merge`, it joins the destination's index). */
  toIndex?: boolean;
  /** A destination that cannot be planned gets `error` instead of failing every destination (a copy to several). */
  isolate?: boolean;
  call?: CallOptions;
  /**
   * Stop after the HEADs when they decide every destination, without reading the roots:
   * `up-to-date` when every destination already holds the source (`ferry copy`), `decided` also
   * when an unfiltered, unmerged destination differs (backfill only needs stale or not).
   */
  decideByHead?: "up-to-date" | "decided";
}

/** The source's root: a HEAD when HEADs may decide, else the GET that reading it takes anyway (one request, not two). */
async function sourceRoot(req: PlanRootRequest, call: CallOptions): Promise<{ head: { digest: string; mediaType: string }; raw?: RawManifest }> {
  const notFound = (cause?: unknown) => new FerryError("NOT_FOUND", `${req.source.name}: ${req.ref} not found`, { side: "source", cause });
  if (!req.decideByHead) {
    const raw = await onSide(req.source.manifestGet(req.ref, call), "source").catch((e: unknown) => {
      throw e instanceof RegistryError && e.status === 404 ? notFound(e) : e;
    });
    return { head: { digest: raw.digest, mediaType: raw.mediaType }, raw };
  }
  const head = await onSide(req.source.manifestHead(req.ref, call), "source");
  if (!head) throw notFound();
  return { head };
}

/** Plans a root for every destination: resolve, filter or keep, then merge or replace each. */
export async function planRoot(req: PlanRootRequest): Promise<RootPlan> {
  const call = req.call ?? {};
  const [{ head, raw: read }, currents] = await Promise.all([sourceRoot(req, call), destinationHeads(req, call)]);
  const byHead = req.destinations.map((_, i) => headVerdict(head.digest, currents[i]?.digest, req));
  const decided = req.decideByHead === "decided" ? byHead.every((v) => v !== undefined) : byHead.every((v) => v === "up-to-date");
  if (req.decideByHead && decided) {
    const destinations = req.destinations.map((d, i) => ({
      index: i,
      ...(d.tag ? { tag: d.tag } : {}),
      ...(currents[i]?.digest ? { current: currents[i].digest } : {}),
      fromDestination: [],
      upToDate: byHead[i] === "up-to-date",
    }));
    return { source: undefined, sourceDigest: head.digest, mediaType: head.mediaType, destinations, warnings: [] };
  }
  const raw = read ?? (await onSide(req.source.manifestGet(head.digest, call), "source"));
  const resolved = await resolveRoot(req.source, raw, req.platforms, call);
  const source = req.toIndex && !resolved.children ? asIndex(req.source, resolved) : resolved;
  const warnings: string[] = [];
  const destinations: DestinationPlan[] = [];
  for (const [i, d] of req.destinations.entries()) {
    const failed = currents[i]?.error;
    if (failed !== undefined) {
      destinations.push({ index: i, ...(d.tag ? { tag: d.tag } : {}), fromDestination: [], upToDate: false, error: failed });
      continue;
    }
    const plan = await planDestination(d.sink, source, {
      ...(d.tag ? { tag: d.tag } : {}),
      merge: req.merge === true,
      current: currents[i]?.digest ?? null,
      call,
    })
      .then((p) => p)
      .catch((e: unknown) => {
        if (!req.isolate) throw e;
        return { destination: { ...(d.tag ? { tag: d.tag } : {}), fromDestination: [], upToDate: false, error: e }, warnings: [] as string[] };
      });
    warnings.push(...plan.warnings);
    destinations.push({ ...plan.destination, index: i, ...(plan.warnings.length ? { warnings: plan.warnings } : {}) });
  }
  return { source, sourceDigest: head.digest, mediaType: raw.mediaType, destinations, warnings };
}

/** What each destination tag holds now; with `isolate`, a destination that cannot be asked keeps its error instead of failing the plan. */
async function destinationHeads(req: PlanRootRequest, call: CallOptions): Promise<Array<{ digest?: string; error?: unknown }>> {
  return Promise.all(
    req.destinations.map(async (d) => {
      if (!d.tag) return {};
      try {
        const there = await onSide(d.sink.manifestHead(d.tag, call), "destination");
        return there ? { digest: there.digest } : {};
      } catch (e) {
        if (!req.isolate) throw e;
        return { error: e };
      }
    }),
  );
}

/** What HEADs alone say about a destination: up to date, stale, or undefined (read the roots). */
function headVerdict(source: string, current: string | undefined, req: PlanRootRequest): "up-to-date" | "stale" | undefined {
  if (req.platforms || req.toIndex) return undefined;
  if (current === source) return "up-to-date";
  return req.merge && current !== undefined ? undefined : "stale";
}

/** A single image as a one-entry index (the image its only child). */
function asIndex(source: ImageSource, image: SourceRoot): SourceRoot {
  const platform = image.platforms[0];
  if (!platform)
    throw new FerryError("UNSUPPORTED", `${source.address(image.digest)} has no platform in its config: it cannot be the entry of an index`, {
      side: "source",
    });
  const index = oneEntryIndex(image, parsePlatformLoose(platform));
  const manifest = parseManifest(index.bytes, index.mediaType).manifest;
  return {
    bytes: index.bytes,
    digest: index.digest,
    mediaType: index.mediaType,
    rebuilt: true,
    sourceDigest: image.sourceDigest,
    children: [index.entry],
    platforms: image.platforms,
    manifest,
  };
}

/** Filters or keeps the source's root; a single image must match the wanted platforms. */
export async function resolveRoot(source: ImageSource, raw: RawManifest, platforms: Platform[] | undefined, call: CallOptions): Promise<SourceRoot> {
  if (raw.manifest.kind === "index" && isIndexType(raw.mediaType)) {
    const p: IndexPlan = platforms ? filterIndex(raw, platforms) : verbatim(raw);
    const imagePlatforms = p.fromSource.filter((d) => d.platform && !isAttestation(d)).map((d) => formatPlatform(d.platform));
    const manifest = p.rebuilt ? parseManifest(p.bytes, p.mediaType).manifest : raw.manifest;
    return {
      bytes: p.bytes,
      digest: p.digest,
      mediaType: p.mediaType,
      rebuilt: p.rebuilt,
      sourceDigest: raw.digest,
      children: p.fromSource,
      platforms: imagePlatforms,
      manifest,
    };
  }
  // Schema 1 is kept verbatim here; whether it is converted is decided as it is pushed (replicate/schema1.ts).
  const schema1 = raw.manifest.kind === "schema1" ? schema1Platform(raw.manifest) : undefined;
  const platform = raw.manifest.kind === "manifest" ? await imagePlatform(source, raw, call) : (schema1 ?? "");
  if (
    platforms &&
    (raw.manifest.kind === "manifest" || schema1 !== undefined) &&
    !platforms.some((w) => platformMatches(w, platform ? parsePlatformLoose(platform) : undefined))
  ) {
    throw new FerryError(
      "PLATFORM_MISMATCH",
      `${source.address(raw.digest)} is a single-platform image for ${platform || "an unknown platform"}, not ${platforms.map(formatPlatform).join(", ")}`,
      { side: "source" },
    );
  }
  const single = { bytes: raw.bytes, digest: raw.digest, mediaType: raw.mediaType, rebuilt: false, sourceDigest: raw.digest };
  return { ...single, children: undefined, platforms: platform ? [platform] : [], manifest: raw.manifest };
}

/**
 * The root one destination gets: the source root, or with `merge` that merged with the index the
 * tag holds now (its platforms the source lacks are kept). `current` is the tag's digest when a
 * HEAD already told (null: no such tag); with `merge` and no `current` the tag is read here.
 */
export async function planDestination(
  sink: ManifestReader,
  root: SourceRoot,
  opts: { tag?: string; merge: boolean; current?: string | null; call?: CallOptions },
): Promise<{ destination: Omit<DestinationPlan, "index">; warnings: string[] }> {
  const call = opts.call ?? {};
  const tag = opts.tag;
  let current = opts.current ?? undefined;
  if (opts.merge && tag && opts.current === undefined) current = (await onSide(sink.manifestHead(tag, call), "destination"))?.digest;
  const base = { ...(tag ? { tag } : {}), ...(current ? { current } : {}) };
  const same = (r: Root, fromDestination: Descriptor[] = []) => ({ ...base, root: r, fromDestination, upToDate: current === r.digest });
  if (!opts.merge || !tag || !current || current === root.digest) return { destination: same(root), warnings: [] };
  const address = sink.address(tag);
  if (!root.children) return { destination: same(root), warnings: [`${address} is replaced: the source is a single manifest, there is nothing to merge`] };
  const existing = await onSide(sink.manifestGet(current, call), "destination");
  if (existing.manifest.kind !== "index") {
    return { destination: same(root), warnings: [`${address} held a single-platform manifest (${existing.digest}); it is replaced, not merged`] };
  }
  const merged = mergeWithDestination({ ...root, fromSource: root.children, fromDestination: [] }, existing);
  return { destination: same(merged, merged.fromDestination), warnings: [] };
}

/** A root recorded as bytes (a job's plan) back as a source root. */
export function sourceRootOf(r: Root & { sourceDigest: string; platforms: string[] }): SourceRoot {
  const manifest = parseManifest(r.bytes, r.mediaType).manifest;
  return { ...r, manifest, children: manifest.kind === "index" && isIndexType(r.mediaType) ? manifest.manifests : undefined };
}

/**
 * The manifests a copy of `root` consists of, each copied with what it references: an index's
 * entries (once each), or the single manifest itself.
 */
export function copyUnits(root: SourceRoot): Descriptor[] {
  if (root.children) {
    const seen = new Set<string>();
    return root.children.filter((c) => !seen.has(c.digest) && seen.add(c.digest));
  }
  const platform = root.platforms[0];
  return [{ mediaType: root.mediaType, digest: root.digest, size: root.bytes.byteLength, ...(platform ? { platform: parsePlatformLoose(platform) } : {}) }];
}

/** Reads os/arch[/variant] from an image's config blob (small); "" for artifacts. */
export async function imagePlatform(source: ImageSource, raw: RawManifest, call: CallOptions): Promise<string> {
  if (raw.manifest.kind !== "manifest") return "";
  const cfg = raw.manifest.config;
  if (!/container\.image\.v1\+json|image\.config\.v1\+json/.test(cfg.mediaType) || cfg.size > 4 * 1024 * 1024) return "";
  const chunks: Buffer[] = [];
  for await (const c of await onSide(source.blobGet(cfg, call), "source")) chunks.push(c as Buffer);
  try {
    const j = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { os?: string; architecture?: string; variant?: string };
    return j.os && j.architecture ? [j.os, j.architecture, j.variant].filter(Boolean).join("/") : "";
  } catch {
    return "";
  }
}
