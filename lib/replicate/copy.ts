/**
 * The copy engine. Copies an image (any shape) from a source to a sink, byte for byte:
 * blobs (skip if present, mount on the same registry, else stream with verification), then child
 * manifests by digest, then the index, the tag last — a tag never points at incomplete content.
 * Each digest is transferred once per destination; transfers run with bounded parallelism.
 */
import { setMaxListeners } from "node:events";
import { Transform } from "node:stream";
import { FerryError, onSide } from "../errors.ts";
import type { Descriptor, Platform, RawManifest } from "../oci/manifest.ts";
import { isForeignLayerType, isIndexType } from "../oci/media-types.ts";
import { formatPlatform, platformMatches } from "../oci/platform.ts";
import type { CallOptions } from "../registry/client.ts";
import { filterIndex, type IndexPlan, isAttestation, mergeWithDestination, verbatim } from "./index-build.ts";
import { Limiter } from "./limiter.ts";
import type { ImageSink, ImageSource } from "./ports.ts";

/** Concurrent blob transfers per copy unless told otherwise. */
export const DEFAULT_JOBS = 8;

/** What the engine reports as it goes (progress display, logs, metrics). */
export type CopyEvent =
  | { type: "resolved"; digest: string; mediaType: string; platforms: string[] }
  | { type: "up-to-date"; digest: string }
  | {
      type: "blob";
      digest: string;
      size: number;
      platform: string;
      action: "start" | "copied" | "skipped" | "mounted" | "foreign-skipped" | "would-copy" | "would-mount";
    }
  | { type: "bytes"; digest: string; bytes: number }
  | { type: "manifest"; digest: string; mediaType: string; platform: string; action: "pushed" | "exists" | "would-push" }
  | { type: "warning"; message: string };

export interface CopyOptions extends CallOptions {
  /** Only these platforms; the index is rebuilt (its digest changes). */
  platforms?: Platform[];
  /** Keep the destination tag's platforms that the source lacks. */
  merge?: boolean;
  /** Copy foreign / non-distributable layers when the source has them (skipped by default). */
  includeForeign?: boolean;
  /** Concurrent blob transfers. Default {@link DEFAULT_JOBS}. */
  jobs?: number;
  /** Plan only: HEADs and manifest GETs, no writes. */
  dryRun?: boolean;
  onEvent?: (e: CopyEvent) => void;
}

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

/** A copy session for one destination repository: dedup maps, limiter, counters. */
export class CopySession {
  readonly source: ImageSource;
  readonly sink: ImageSink;
  readonly opts: CopyOptions;
  private readonly limiter: Limiter;
  private readonly blobs = new Map<string, Promise<void>>();
  private readonly manifests = new Map<string, Promise<void>>();
  readonly stats = { copied: 0, skipped: 0, mounted: 0, foreignSkipped: 0, bytes: 0, manifestsPushed: 0, manifestsSkipped: 0 };
  readonly warnings: string[] = [];

  constructor(source: ImageSource, sink: ImageSink, opts: CopyOptions = {}) {
    this.source = source;
    this.sink = sink;
    this.opts = opts;
    this.limiter = new Limiter(opts.jobs ?? DEFAULT_JOBS);
    // Every in-flight request listens on the signal: dozens at once are expected, not a leak.
    if (opts.signal) setMaxListeners(0, opts.signal);
  }

  private call(): CallOptions {
    return { ...(this.opts.signal ? { signal: this.opts.signal } : {}), ...(this.opts.deadline ? { deadline: this.opts.deadline } : {}) };
  }

  private emit(e: CopyEvent): void {
    this.opts.onEvent?.(e);
  }

  warn(message: string): void {
    this.warnings.push(message);
    this.emit({ type: "warning", message });
  }

  /** Copies one blob once per session: skip if present, mount if possible, else stream. */
  copyBlob(desc: Descriptor, platform = ""): Promise<void> {
    let p = this.blobs.get(desc.digest);
    if (!p) {
      p = this.doCopyBlob(desc, platform);
      this.blobs.set(desc.digest, p);
    }
    return p;
  }

  private async doCopyBlob(desc: Descriptor, platform: string): Promise<void> {
    const call = this.call();
    const event = (action: Extract<CopyEvent, { type: "blob" }>["action"]) =>
      this.emit({ type: "blob", digest: desc.digest, size: desc.size, platform, action });
    if (isForeignLayerType(desc.mediaType) || (desc.urls && desc.urls.length > 0)) {
      const has = this.opts.includeForeign ? await this.source.blobHead(desc.digest, call).catch(() => undefined) : undefined;
      if (has === undefined) {
        // As skopeo and crane: foreign layers live at their URLs; the manifest still names them.
        this.stats.foreignSkipped++;
        event("foreign-skipped");
        return;
      }
    }
    await this.limiter.run(async () => {
      if ((await onSide(this.sink.blobHead(desc.digest, call), "destination")) !== undefined) {
        this.stats.skipped++;
        event("skipped");
        return;
      }
      if (this.opts.dryRun) {
        event(this.canMount() ? "would-mount" : "would-copy");
        return;
      }
      let location: string | undefined;
      if (this.sink.blobMount) {
        const m = await onSide(this.sink.blobMount(desc.digest, this.source, call), "destination");
        if (m?.mounted) {
          this.stats.mounted++;
          event("mounted");
          return;
        }
        location = m?.location;
      }
      event("start");
      await this.sink.blobPut(desc, () => this.openCounted(desc), { ...call, ...(location ? { location } : {}) });
      this.stats.copied++;
      this.stats.bytes += desc.size;
      event("copied");
    });
  }

  /** Source and sink are different repositories of one registry (so a mount may work). */
  private canMount(): boolean {
    const host = (name: string) => (name.startsWith("oci:") ? undefined : name.split("/")[0]);
    return (
      this.sink.blobMount !== undefined &&
      host(this.sink.name) !== undefined &&
      host(this.sink.name) === host(this.source.name) &&
      this.sink.name !== this.source.name
    );
  }

  private async openCounted(desc: Descriptor) {
    const stream = await onSide(this.source.blobGet(desc, this.call()), "source");
    if (!this.opts.onEvent) return stream;
    let n = 0;
    const emit = (bytes: number) => this.emit({ type: "bytes", digest: desc.digest, bytes });
    const counter = new Transform({
      transform(chunk: Buffer, _e, cb) {
        n += chunk.byteLength;
        emit(n);
        cb(null, chunk);
      },
    });
    stream.on("error", (e) => counter.destroy(e));
    return stream.pipe(counter);
  }

  /**
   * Copies a manifest by digest with everything it references (children first), unless the
   * destination already has it. The unit of work of a pipeline copy task.
   */
  copyManifest(desc: Descriptor, platform = ""): Promise<void> {
    let p = this.manifests.get(desc.digest);
    if (!p) {
      p = this.doCopyManifest(desc, platform);
      this.manifests.set(desc.digest, p);
    }
    return p;
  }

  private async doCopyManifest(desc: Descriptor, platform: string): Promise<void> {
    const call = this.call();
    const there = await onSide(this.sink.manifestHead(desc.digest, call), "destination");
    if (there) {
      this.stats.manifestsSkipped++;
      this.emit({ type: "manifest", digest: desc.digest, mediaType: desc.mediaType, platform, action: "exists" });
      return;
    }
    const raw = await onSide(this.source.manifestGet(desc.digest, call), "source");
    await this.copyReferenced(raw, platform);
    await this.putManifest(raw.digest, raw.bytes, raw.mediaType, platform);
  }

  /** Copies what a manifest references: an index's children, or an image's config and layers. */
  async copyReferenced(raw: RawManifest, platform: string, children?: Descriptor[]): Promise<void> {
    const m = raw.manifest;
    if (m.kind === "index") {
      const list = children ?? m.manifests;
      await Promise.all(
        list.map((d) => this.copyManifest(d, d.platform ? formatPlatform(d.platform) : isAttestation(d) ? `attestation ${platform}`.trim() : platform)),
      );
    } else if (m.kind === "manifest") {
      await Promise.all([m.config, ...m.layers].map((d) => this.copyBlob(d, platform)));
    } else {
      throw new FerryError("UNSUPPORTED", `${this.source.name}: Docker schema 1 manifests are not copied (deprecated, rejected by current registries)`, {
        side: "source",
      });
    }
  }

  /** PUTs manifest bytes (by digest or tag); in a dry run only reports it. */
  async putManifest(ref: string, bytes: Buffer, mediaType: string, platform: string): Promise<string | undefined> {
    const digest = ref.includes(":") ? ref : undefined;
    if (this.opts.dryRun) {
      this.emit({ type: "manifest", digest: digest ?? ref, mediaType, platform, action: "would-push" });
      return digest;
    }
    const pushed = await onSide(this.sink.manifestPut(ref, bytes, mediaType, this.call()), "destination");
    this.stats.manifestsPushed++;
    this.emit({ type: "manifest", digest: pushed, mediaType, platform, action: "pushed" });
    return pushed;
  }
}

/**
 * Copies `srcRef` (tag or digest) from `source` to `dstRef` at `sink`. `dstRef` undefined means:
 * the source's tag, or by digest only when the source was named by digest.
 */
export async function copyImage(source: ImageSource, srcRef: string, sink: ImageSink, dstRef: string | undefined, opts: CopyOptions = {}): Promise<CopyResult> {
  const started = Date.now();
  const session = new CopySession(source, sink, opts);
  const call = { ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.deadline ? { deadline: opts.deadline } : {}) };
  const tag = dstRef ?? (srcRef.includes(":") ? undefined : srcRef);
  const dstTagOrDigest = tag ?? srcRef;

  // One HEAD per side decides "up to date" for an unfiltered copy: no GET at all.
  const [srcDesc, dstDesc] = await Promise.all([
    onSide(source.manifestHead(srcRef, call), "source"),
    tag ? onSide(sink.manifestHead(tag, call), "destination") : Promise.resolve(undefined),
  ]);
  if (!srcDesc) throw new FerryError("NOT_FOUND", `${source.name}: ${srcRef} not found`, { side: "source" });
  const result = (digest: string, mediaType: string, platforms: string[], rebuilt: boolean, upToDate: boolean): CopyResult => ({
    source: `${source.name}${srcRef.includes(":") ? "@" : ":"}${srcRef}`,
    destination: sink.address(dstTagOrDigest),
    sourceDigest: srcDesc.digest,
    digest,
    mediaType,
    platforms,
    indexRebuilt: rebuilt,
    upToDate,
    dryRun: opts.dryRun === true,
    blobs: { copied: session.stats.copied, skipped: session.stats.skipped, mounted: session.stats.mounted, foreignSkipped: session.stats.foreignSkipped },
    manifests: { pushed: session.stats.manifestsPushed, skipped: session.stats.manifestsSkipped },
    bytes: session.stats.bytes,
    durationMs: Date.now() - started,
    ...(tag ? { addressByTag: sink.address(tag) } : {}),
    addressByDigest: sink.address(digest),
    warnings: session.warnings,
  });
  if (!opts.platforms && dstDesc?.digest === srcDesc.digest) {
    opts.onEvent?.({ type: "up-to-date", digest: srcDesc.digest });
    return result(srcDesc.digest, srcDesc.mediaType, [], false, true);
  }

  const raw = await onSide(source.manifestGet(srcDesc.digest, call), "source");
  if (raw.manifest.kind === "index" && isIndexType(raw.mediaType)) {
    let plan: IndexPlan = opts.platforms ? filterIndex(raw, opts.platforms) : verbatim(raw);
    if (opts.merge && tag && dstDesc) {
      const existing = await onSide(sink.manifestGet(dstDesc.digest, call), "destination");
      if (existing.manifest.kind === "index") plan = mergeWithDestination(plan, raw, existing);
      else session.warn(`${sink.address(tag)} held a single-platform manifest (${existing.digest}); it is replaced, not merged`);
    }
    const platforms = [...plan.fromSource, ...plan.fromDestination].filter((d) => d.platform && !isAttestation(d)).map((d) => formatPlatform(d.platform));
    opts.onEvent?.({ type: "resolved", digest: plan.digest, mediaType: plan.mediaType, platforms });
    if (dstDesc?.digest === plan.digest) {
      opts.onEvent?.({ type: "up-to-date", digest: plan.digest });
      return result(plan.digest, plan.mediaType, platforms, plan.rebuilt, true);
    }
    await session.copyReferenced(raw, "", plan.fromSource);
    const pushed = await session.putManifest(tag ?? plan.digest, plan.bytes, plan.mediaType, "index");
    if (pushed && pushed !== plan.digest)
      throw new FerryError("DIGEST_MISMATCH", `${sink.name}: index stored as ${pushed}, expected ${plan.digest}`, { side: "destination" });
    return result(plan.digest, plan.mediaType, platforms, plan.rebuilt, false);
  }

  // A single manifest (image or artifact).
  let platform = "";
  if (raw.manifest.kind === "manifest") platform = await imagePlatform(source, raw, call);
  if (opts.platforms && raw.manifest.kind === "manifest") {
    const p = platform ? parsePlatformLoose(platform) : undefined;
    if (!p || !opts.platforms.some((w) => platformMatches(w, p))) {
      throw new FerryError(
        "PLATFORM_MISMATCH",
        `${source.name}:${srcRef} is a single-platform image for ${platform || "an unknown platform"}, not ${opts.platforms.map(formatPlatform).join(", ")}`,
        { side: "source" },
      );
    }
  }
  opts.onEvent?.({ type: "resolved", digest: raw.digest, mediaType: raw.mediaType, platforms: platform ? [platform] : [] });
  if (opts.merge && dstDesc && dstDesc.digest !== raw.digest) {
    session.warn(`${sink.address(tag ?? srcRef)} is replaced: the source is a single manifest, there is nothing to merge`);
  }
  await session.copyReferenced(raw, platform);
  await session.putManifest(tag ?? raw.digest, raw.bytes, raw.mediaType, platform);
  return result(raw.digest, raw.mediaType, platform ? [platform] : [], false, false);
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

export function parsePlatformLoose(s: string): Platform {
  const [os = "", architecture = "", variant] = s.split("/");
  return variant ? { os, architecture, variant } : { os, architecture };
}
