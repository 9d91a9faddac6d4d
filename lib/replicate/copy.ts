/**
 * `ferry copy`'s engine: the root planner decides what to push (verbatim, filtered, merged, up to
 * date), then a copy session copies the children, then the root — the tag last, so a tag never
 * points at incomplete content.
 */
import { FerryError } from "../errors.ts";
import { isDigest } from "../oci/digest.ts";
import type { Descriptor } from "../oci/manifest.ts";
import { formatPlatform } from "../oci/platform.ts";
import type { CallOptions } from "../registry/client.ts";
import { type CopyOptions, CopySession, DEFAULT_JOBS } from "./copy-session.ts";
import { blobsUnder, cachingSource, fanOutBlobs } from "./fanout.ts";
import { childLabel, isAttestation } from "./index-build.ts";
import type { ImageSink, ImageSource } from "./ports.ts";
import { type Discovery, orphanWarning, type Referrer, referrersFor, withoutDescendantsOf } from "./referrers.ts";
import { copyReferrers, type ReferrerCopy, referrerLabel } from "./referrers-copy.ts";
import { copyUnits, type DestinationPlan, planRoot, type Root, type RootPlan, type SourceRoot } from "./root-plan.ts";
import { pushSchema1Root } from "./schema1.ts";

/** What a copy did. */
export interface CopyResult {
  source: string;
  destination: string;
  sourceDigest: string;
  /** Digest pushed (differs from the source's when the index was filtered or merged). */
  digest: string;
  mediaType: string;
  platforms: string[];
  indexRebuilt: boolean;
  upToDate: boolean;
  dryRun: boolean;
  blobs: { copied: number; skipped: number; mounted: number; foreignSkipped: number };
  manifests: { pushed: number; skipped: number };
  /** What refers to the image (signatures, SBOMs, attestations) and what copying each did. */
  referrers: ReferrerCopy[];
  bytes: number;
  durationMs: number;
  addressByTag?: string;
  addressByDigest: string;
  /** `schema1` when a Docker schema 1 image was converted to schema 2 on the way: `digest` is the new image's, not `sourceDigest`. */
  converted?: string;
  /** The destination's parts, for CI: its registry (absent for an OCI layout), repository (the layout's directory), tag. */
  registry?: string;
  repository: string;
  tag?: string;
  /** `repository:tag` and `repository@digest`, without the registry. */
  shortAddressByTag?: string;
  shortAddressByDigest: string;
  warnings: string[];
  /** This destination failed (a copy to several destinations goes on with the others). */
  error?: unknown;
}

/** One destination of a copy: a sink, and the tag to move there (none: by digest only). */
export interface CopyTarget {
  sink: ImageSink;
  tag?: string;
}

/**
 * Copies `srcRef` (tag or digest) from `source` to `dstRef` at `sink`. `dstRef` undefined means:
 * the source's tag, or by digest only when the source was named by digest. The root planner
 * decides what to push; the session copies the children, then the root by digest, then what
 * refers to it (signatures, SBOMs, attestations), and moves the tag last.
 */
export async function copyImage(source: ImageSource, srcRef: string, sink: ImageSink, dstRef: string | undefined, opts: CopyOptions = {}): Promise<CopyResult> {
  const tag = dstRef ?? (isDigest(srcRef) ? undefined : srcRef);
  const [result] = await copyToMany(source, srcRef, [{ sink, ...(tag ? { tag } : {}) }], opts);
  if (!result) throw new FerryError("INTERNAL", "no result");
  if (result.error !== undefined) throw result.error;
  return result;
}

/**
 * Copies `srcRef` to every target, reading the source once: the tree's manifests are read once,
 * and with several destinations each blob is read once and streamed to all that need it. One
 * result per target, in order; a destination that failed has its `error` (the others go on).
 */
export async function copyToMany(source: ImageSource, srcRef: string, targets: CopyTarget[], opts: CopyOptions = {}): Promise<CopyResult[]> {
  const started = Date.now();
  const cached = targets.length > 1 ? cachingSource(source) : source;
  const sessions = targets.map((t) => new CopySession(cached, t.sink, opts));
  const call = (sessions[0] as CopySession).callOptions();
  const plan = await planRoot({
    source: cached,
    ref: srcRef,
    destinations: targets,
    ...(opts.platforms ? { platforms: opts.platforms } : {}),
    ...(opts.merge ? { merge: true } : {}),
    ...(opts.toIndex ? { toIndex: true } : {}),
    ...(targets.length > 1 ? { isolate: true } : {}),
    call,
    // Referrers are looked for even when the tag is up to date (a signature may have come since).
    ...(opts.referrers === false ? { decideByHead: "up-to-date" as const } : {}),
  });
  const referrers = plan.source ? await referrersToCopy(cached, plan.source, opts, call) : { referrers: [], warnings: [] };
  if (plan.source) {
    const first = plan.destinations[0] as DestinationPlan;
    opts.onEvent?.({
      type: "resolved",
      digest: first.root?.digest ?? plan.sourceDigest,
      mediaType: plan.mediaType,
      platforms: platformsOfPlan(plan.source, first),
    });
    if (sessions.length > 1) await shareBlobs(sessions, plan, referrers.referrers, opts.jobs ?? DEFAULT_JOBS);
  }
  return Promise.all(
    sessions.map(async (session, i) => {
      const dst = plan.destinations[i] as DestinationPlan;
      const tag = targets[i]?.tag;
      for (const w of [...(dst.warnings ?? []), ...referrers.warnings]) session.warn(w);
      try {
        if (dst.error !== undefined) throw dst.error;
        const copied = plan.source && dst.root ? await copyTree(session, plan.source, dst, tag, referrers.referrers) : [];
        if (dst.upToDate) opts.onEvent?.({ type: "up-to-date", digest: dst.root?.digest ?? plan.sourceDigest });
        return resultOf(session, plan, dst, { srcRef, tag, referrers: copied, started });
      } catch (e) {
        return { ...resultOf(session, plan, dst, { srcRef, tag, referrers: [], started }), error: e };
      }
    }),
  );
}

/** Each blob of the tree (and of its referrers) read from the source once, for every destination that needs it. */
async function shareBlobs(sessions: CopySession[], plan: RootPlan, referrers: Referrer[], jobs: number): Promise<void> {
  const source = plan.source as SourceRoot;
  if (source.generated) return; // a converted root: each session uploads what ferry made
  const first = sessions[0] as CopySession;
  const behind = sessions.filter((_, i) => !plan.destinations[i]?.upToDate && plan.destinations[i]?.error === undefined);
  const units = copyUnits(source).map((desc) => ({ desc, label: childLabel(desc, source.platforms[0] ?? "") }));
  if (behind.length > 0) await fanOutBlobs(behind, await blobsUnder(first.source, units, first.callOptions()), jobs);
  const refs = referrers.map((r) => ({ desc: r.descriptor, label: referrerLabel(r) }));
  const reachable = sessions.filter((_, i) => plan.destinations[i]?.error === undefined);
  if (refs.length > 0) await fanOutBlobs(reachable, await blobsUnder(first.source, refs, first.callOptions()), jobs);
}

/**
 * Children first, then the root (by digest when referrers follow), then the referrers, then the
 * tag: a tag never points at content whose signatures are still on their way.
 */
async function copyTree(session: CopySession, source: SourceRoot, dst: DestinationPlan, tag: string | undefined, all: Referrer[]): Promise<ReferrerCopy[]> {
  const root = dst.root as Root;
  let found = all;
  if (root.digest !== source.digest && all.length > 0) {
    // Merged with this destination's platforms: what refers to the source's index refers to nothing here.
    const w = withoutDescendantsOf(all, source.digest);
    found = w.kept;
    if (w.dropped > 0) session.warn(orphanWarning(w.dropped, source.digest));
  }
  const byDigest = found.length > 0;
  let pushed: Root = root;
  if (!dst.upToDate) pushed = await pushRoot(session, source, root, byDigest ? undefined : tag);
  if (pushed !== root) {
    // A converted schema 1 image: the destination holds a new digest, which nothing refers to.
    dst.root = pushed;
    if (found.length > 0) session.warn(`${found.length} referrer(s) of ${source.digest} not copied: they name the schema 1 digest, which conversion changed`);
    found = [];
  }
  const copied = await copyReferrers(session, found);
  for (const r of copied) session.emit({ type: "referrer", ...r });
  if (!dst.upToDate && byDigest && tag) await session.putManifest(tag, pushed.bytes, pushed.mediaType, source.children ? "index" : (source.platforms[0] ?? ""));
  return copied;
}

/** What refers to the image at the source (once for every destination). */
async function referrersToCopy(source: ImageSource, root: SourceRoot, opts: CopyOptions, call: CallOptions): Promise<Discovery> {
  if (opts.referrers === false) return { referrers: [], warnings: [] };
  const artifactTypes = opts.referrers?.artifactTypes;
  return referrersFor(source, root, { rootKept: true, ...(artifactTypes ? { artifactTypes } : {}), call });
}

function resultOf(
  session: CopySession,
  plan: RootPlan,
  dst: DestinationPlan,
  r: { srcRef: string; tag: string | undefined; referrers: ReferrerCopy[]; started: number },
): CopyResult {
  const { source, sink, stats: s } = session;
  const digest = dst.root?.digest ?? plan.sourceDigest;
  return {
    source: source.address(r.srcRef),
    destination: sink.address(r.tag ?? r.srcRef),
    sourceDigest: plan.sourceDigest,
    digest,
    mediaType: dst.root?.mediaType ?? plan.mediaType,
    platforms: plan.source ? platformsOfPlan(plan.source, dst) : [],
    indexRebuilt: (dst.root?.rebuilt ?? false) && !(dst.root as SourceRoot).converted,
    ...((dst.root as SourceRoot | undefined)?.converted ? { converted: (dst.root as SourceRoot).converted } : {}),
    upToDate: dst.upToDate,
    dryRun: session.opts.dryRun === true,
    blobs: { copied: s.copied, skipped: s.skipped, mounted: s.mounted, foreignSkipped: s.foreignSkipped },
    manifests: { pushed: s.manifestsPushed, skipped: s.manifestsSkipped },
    referrers: r.referrers,
    bytes: s.bytes,
    durationMs: Date.now() - r.started,
    ...(r.tag ? { addressByTag: sink.address(r.tag) } : {}),
    addressByDigest: sink.address(digest),
    ...shortAddresses(sink, r.tag, digest),
    warnings: session.warnings,
  };
}

/** The destination's registry, repository and tag, and its addresses without the registry. */
function shortAddresses(sink: ImageSink, tag: string | undefined, digest: string) {
  const repository = sink.registryHost && sink.repository ? sink.repository : sink.name.replace(/^oci:/, "");
  return {
    ...(sink.registryHost ? { registry: sink.registryHost } : {}),
    repository,
    ...(tag ? { tag, shortAddressByTag: `${repository}:${tag}` } : {}),
    shortAddressByDigest: `${repository}@${digest}`,
  };
}

function platformsOfPlan(source: SourceRoot, dst: DestinationPlan): string[] {
  return [...source.platforms, ...platformsOf(dst.fromDestination)];
}

/** Copies what the root references (children first), then the root under the tag (or its digest); resolves to the root pushed. */
async function pushRoot(session: CopySession, source: SourceRoot, root: Root, tag: string | undefined): Promise<Root> {
  if (source.manifest.kind === "schema1") {
    const pushed = await pushSchema1Root(session, source, tag);
    return pushed === source ? root : pushed;
  }
  for (const g of source.generated ?? []) session.addGenerated(g.descriptor.digest, g.bytes);
  if (source.children) {
    await Promise.all(source.children.map((d) => session.copyManifest(d, childLabel(d, ""))));
    const pushed = await session.putManifest(tag ?? root.digest, root.bytes, root.mediaType, "index");
    if (pushed && pushed !== root.digest)
      throw new FerryError("DIGEST_MISMATCH", `${session.sink.name}: index stored as ${pushed}, expected ${root.digest}`, { side: "destination" });
    return root;
  }
  const platform = source.platforms[0] ?? "";
  await session.copyReferenced(source.manifest, platform);
  await session.putManifest(tag ?? root.digest, root.bytes, root.mediaType, platform);
  return root;
}

function platformsOf(entries: Descriptor[]): string[] {
  return entries.filter((d) => d.platform && !isAttestation(d)).map((d) => formatPlatform(d.platform));
}
