/**
 * `ferry copy`'s engine: the root planner decides what to push (verbatim, filtered, merged, up to
 * date), then a copy session copies the children, then the root — the tag last, so a tag never
 * points at incomplete content.
 */
import { FerryError } from "../errors.ts";
import { isDigest } from "../oci/digest.ts";
import type { Descriptor } from "../oci/manifest.ts";
import { formatPlatform } from "../oci/platform.ts";
import { type CopyOptions, CopySession, childLabel } from "./copy-session.ts";
import { isAttestation } from "./index-build.ts";
import type { ImageSink, ImageSource } from "./ports.ts";
import { type Referrer, referrersFor } from "./referrers.ts";
import { copyReferrers, type ReferrerCopy } from "./referrers-copy.ts";
import { type DestinationPlan, planRoot, type Root, type RootPlan, type SourceRoot } from "./root-plan.ts";

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
  warnings: string[];
}

/**
 * Copies `srcRef` (tag or digest) from `source` to `dstRef` at `sink`. `dstRef` undefined means:
 * the source's tag, or by digest only when the source was named by digest. The root planner
 * decides what to push; the session copies the children, then the root by digest, then what
 * refers to it (signatures, SBOMs, attestations), and moves the tag last.
 */
export async function copyImage(source: ImageSource, srcRef: string, sink: ImageSink, dstRef: string | undefined, opts: CopyOptions = {}): Promise<CopyResult> {
  const started = Date.now();
  const session = new CopySession(source, sink, opts);
  const tag = dstRef ?? (isDigest(srcRef) ? undefined : srcRef);
  const plan = await planRoot({
    source,
    ref: srcRef,
    destinations: [{ sink, ...(tag ? { tag } : {}) }],
    ...(opts.platforms ? { platforms: opts.platforms } : {}),
    ...(opts.merge ? { merge: true } : {}),
    call: session.callOptions(),
    // Referrers are looked for even when the tag is up to date (a signature may have come since).
    ...(opts.referrers === false ? { decideByHead: "up-to-date" as const } : {}),
  });
  const dst = plan.destinations[0] as DestinationPlan;
  for (const w of plan.warnings) session.warn(w);
  let referrers: ReferrerCopy[] = [];
  if (plan.source && dst.root) {
    opts.onEvent?.({ type: "resolved", digest: dst.root.digest, mediaType: dst.root.mediaType, platforms: platformsOfPlan(plan.source, dst) });
    referrers = await copyTree(session, plan.source, dst, tag);
  }
  if (dst.upToDate) opts.onEvent?.({ type: "up-to-date", digest: dst.root?.digest ?? plan.sourceDigest });
  return resultOf(session, plan, dst, { srcRef, tag, referrers, started });
}

/**
 * Children first, then the root (by digest when referrers follow), then the referrers, then the
 * tag: a tag never points at content whose signatures are still on their way.
 */
async function copyTree(session: CopySession, source: SourceRoot, dst: DestinationPlan, tag: string | undefined): Promise<ReferrerCopy[]> {
  const root = dst.root as Root;
  const found = session.opts.referrers === false ? [] : await referrersToCopy(session, source, root);
  if (!dst.upToDate) await pushRoot(session, source, root, found.length > 0 ? undefined : tag);
  const copied = await copyReferrers(session, found);
  for (const r of copied) session.emit({ type: "referrer", ...r });
  if (!dst.upToDate && found.length > 0 && tag)
    await session.putManifest(tag, root.bytes, root.mediaType, source.children ? "index" : (source.platforms[0] ?? ""));
  return copied;
}

/** What refers to the image and applies at this destination. */
async function referrersToCopy(session: CopySession, source: SourceRoot, root: Root): Promise<Referrer[]> {
  const artifactTypes = session.opts.referrers ? session.opts.referrers.artifactTypes : undefined;
  const found = await referrersFor(session.source, source, {
    rootKept: root.digest === source.digest,
    ...(artifactTypes ? { artifactTypes } : {}),
    call: session.callOptions(),
  });
  for (const w of found.warnings) session.warn(w);
  return found.referrers;
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
    indexRebuilt: dst.root?.rebuilt ?? false,
    upToDate: dst.upToDate,
    dryRun: session.opts.dryRun === true,
    blobs: { copied: s.copied, skipped: s.skipped, mounted: s.mounted, foreignSkipped: s.foreignSkipped },
    manifests: { pushed: s.manifestsPushed, skipped: s.manifestsSkipped },
    referrers: r.referrers,
    bytes: s.bytes,
    durationMs: Date.now() - r.started,
    ...(r.tag ? { addressByTag: sink.address(r.tag) } : {}),
    addressByDigest: sink.address(digest),
    warnings: session.warnings,
  };
}

function platformsOfPlan(source: SourceRoot, dst: DestinationPlan): string[] {
  return [...source.platforms, ...platformsOf(dst.fromDestination)];
}

/** Copies what the root references (children first), then the root under the tag (or its digest). */
async function pushRoot(session: CopySession, source: SourceRoot, root: Root, tag: string | undefined): Promise<void> {
  for (const g of source.generated ?? []) session.addGenerated(g.descriptor.digest, g.bytes);
  if (source.children) {
    await Promise.all(source.children.map((d) => session.copyManifest(d, childLabel(d, ""))));
    const pushed = await session.putManifest(tag ?? root.digest, root.bytes, root.mediaType, "index");
    if (pushed && pushed !== root.digest)
      throw new FerryError("DIGEST_MISMATCH", `${session.sink.name}: index stored as ${pushed}, expected ${root.digest}`, { side: "destination" });
    return;
  }
  const platform = source.platforms[0] ?? "";
  await session.copyReferenced(source.manifest, platform);
  await session.putManifest(tag ?? root.digest, root.bytes, root.mediaType, platform);
}

function platformsOf(entries: Descriptor[]): string[] {
  return entries.filter((d) => d.platform && !isAttestation(d)).map((d) => formatPlatform(d.platform));
}
