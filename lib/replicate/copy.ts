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
import { type DestinationPlan, planRoot, type Root, type SourceRoot } from "./root-plan.ts";

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
  bytes: number;
  durationMs: number;
  addressByTag?: string;
  addressByDigest: string;
  warnings: string[];
}

/**
 * Copies `srcRef` (tag or digest) from `source` to `dstRef` at `sink`. `dstRef` undefined means:
 * the source's tag, or by digest only when the source was named by digest. The root planner
 * decides what to push; the session copies the children, then the root (the tag last).
 */
export async function copyImage(source: ImageSource, srcRef: string, sink: ImageSink, dstRef: string | undefined, opts: CopyOptions = {}): Promise<CopyResult> {
  const started = Date.now();
  const session = new CopySession(source, sink, opts);
  const call = { ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.deadline ? { deadline: opts.deadline } : {}) };
  const tag = dstRef ?? (isDigest(srcRef) ? undefined : srcRef);
  const plan = await planRoot({
    source,
    ref: srcRef,
    destinations: [{ sink, ...(tag ? { tag } : {}) }],
    ...(opts.platforms ? { platforms: opts.platforms } : {}),
    ...(opts.merge ? { merge: true } : {}),
    call,
    decideByHead: "up-to-date",
  });
  const dst = plan.destinations[0] as DestinationPlan;
  const root = dst.root;
  const digest = root?.digest ?? plan.sourceDigest;
  const result: CopyResult = {
    source: source.address(srcRef),
    destination: sink.address(tag ?? srcRef),
    sourceDigest: plan.sourceDigest,
    digest,
    mediaType: root?.mediaType ?? plan.mediaType,
    platforms: plan.source ? [...plan.source.platforms, ...platformsOf(dst.fromDestination)] : [],
    indexRebuilt: root?.rebuilt ?? false,
    upToDate: dst.upToDate,
    dryRun: opts.dryRun === true,
    blobs: { copied: 0, skipped: 0, mounted: 0, foreignSkipped: 0 },
    manifests: { pushed: 0, skipped: 0 },
    bytes: 0,
    durationMs: 0,
    ...(tag ? { addressByTag: sink.address(tag) } : {}),
    addressByDigest: sink.address(digest),
    warnings: session.warnings,
  };
  for (const w of plan.warnings) session.warn(w);
  if (plan.source && root) {
    opts.onEvent?.({ type: "resolved", digest, mediaType: root.mediaType, platforms: result.platforms });
    if (!dst.upToDate) await pushRoot(session, plan.source, root, tag);
  }
  if (dst.upToDate) opts.onEvent?.({ type: "up-to-date", digest });
  const s = session.stats;
  return {
    ...result,
    blobs: { copied: s.copied, skipped: s.skipped, mounted: s.mounted, foreignSkipped: s.foreignSkipped },
    manifests: { pushed: s.manifestsPushed, skipped: s.manifestsSkipped },
    bytes: s.bytes,
    durationMs: Date.now() - started,
  };
}

/** Copies what the root references (children first), then the root under the tag (or its digest). */
async function pushRoot(session: CopySession, source: SourceRoot, root: Root, tag: string | undefined): Promise<void> {
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
