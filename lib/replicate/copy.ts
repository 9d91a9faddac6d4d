/**
 * The copy engine. Copies an image (any shape) from a source to a sink, byte for byte:
 * blobs (skip if present, mount on the same registry, else stream with verification), then child
 * manifests by digest, then the index, the tag last — a tag never points at incomplete content.
 * Each digest is transferred once per destination; transfers run with bounded parallelism.
 */
import { setMaxListeners } from "node:events";
import { Transform } from "node:stream";
import { FerryError, onSide } from "../errors.ts";
import { isDigest } from "../oci/digest.ts";
import type { AnyManifest, Descriptor, Platform } from "../oci/manifest.ts";
import { isForeignLayerType } from "../oci/media-types.ts";
import { formatPlatform } from "../oci/platform.ts";
import type { CallOptions } from "../registry/client.ts";
import { isAttestation } from "./index-build.ts";
import { Limiter } from "./limiter.ts";
import type { ImageSink, ImageSource } from "./ports.ts";
import { type DestinationPlan, planRoot, type Root, type SourceRoot } from "./root-plan.ts";

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
    await this.copyReferenced(raw.manifest, platform);
    await this.putManifest(raw.digest, raw.bytes, raw.mediaType, platform);
  }

  /** Copies what a manifest references: an index's children, or an image's config and layers. */
  async copyReferenced(m: AnyManifest, platform: string): Promise<void> {
    if (m.kind === "index") {
      await Promise.all(m.manifests.map((d) => this.copyManifest(d, childLabel(d, platform))));
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
    const digest = isDigest(ref) ? ref : undefined;
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

/** How progress names an index entry: its platform, or an attestation of its parent's. */
function childLabel(d: Descriptor, parent: string): string {
  return d.platform ? formatPlatform(d.platform) : isAttestation(d) ? `attestation ${parent}`.trim() : parent;
}
