/**
 * A copy session for one destination repository: each blob and manifest is transferred once
 * (skip if present, mount on the same registry, else stream with verification), children before
 * parents, with bounded parallelism. The unit of work of `ferry copy` and of a pipeline copy task.
 */
import { setMaxListeners } from "node:events";
import { Readable, Transform } from "node:stream";
import { FerryError, onSide } from "../errors.ts";
import { isDigest } from "../oci/digest.ts";
import type { AnyManifest, Descriptor, Platform, RawManifest } from "../oci/manifest.ts";
import { isForeignLayerType } from "../oci/media-types.ts";
import type { CallOptions } from "../registry/client.ts";
import { childLabel } from "./index-build.ts";
import { Limiter } from "./limiter.ts";
import type { ImageSink, ImageSource } from "./ports.ts";

type BlobAction = Extract<CopyEvent, { type: "blob" }>["action"];

/** What copying a manifest did. */
export type ManifestAction = "pushed" | "exists" | "would-push";

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
  | { type: "referrer"; subject: string; digest: string; artifactType?: string; via: "api" | "fallback" | "cosign"; tag?: string; action: ManifestAction }
  | { type: "warning"; message: string };

export interface CopyOptions extends CallOptions {
  /** Only these platforms; the index is rebuilt (its digest changes). */
  platforms?: Platform[];
  /** Keep the destination tag's platforms that the source lacks. */
  merge?: boolean;
  /** Push a single-platform image as a one-entry index with its platform (with `merge`: it joins the destination's index). */
  toIndex?: boolean;
  /** Convert a Docker schema 1 image to schema 2 before pushing; without it, only when the destination refuses schema 1. */
  convertSchema1?: boolean;
  /** Copy foreign / non-distributable layers when the source has them (skipped by default). */
  includeForeign?: boolean;
  /** Concurrent blob transfers. Default {@link DEFAULT_JOBS}. */
  jobs?: number;
  /** Plan only: HEADs and manifest GETs, no writes. */
  dryRun?: boolean;
  /** Referrers (signatures, SBOMs, attestations) travel with the image unless `false`; optionally only some artifact types. */
  referrers?: false | { artifactTypes?: string[] };
  onEvent?: (e: CopyEvent) => void;
  /** Blobs of at least `minSize` bytes read from the source go through `copy` (the pipeline's: resumable across invocations). */
  largeBlobs?: LargeBlobCopier;
}

/** How large blobs travel instead of one streamed upload; `location` is a session a refused mount left open. */
export interface LargeBlobCopier {
  minSize: number;
  copy(desc: Descriptor, location: string | undefined): Promise<void>;
}

/** Dedup maps, limiter and counters of one source → destination copy. */
export class CopySession {
  readonly source: ImageSource;
  readonly sink: ImageSink;
  readonly opts: CopyOptions;
  private readonly limiter: Limiter;
  private readonly blobs = new Map<string, Promise<void>>();
  private readonly manifests = new Map<string, Promise<ManifestAction>>();
  /** Subjects the destination answered `OCI-Subject` for: it keeps their referrers lists itself. */
  readonly subjectsAnswered = new Set<string>();
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

  /** The signal and deadline every request of this session carries. */
  callOptions(): CallOptions {
    return { ...(this.opts.signal ? { signal: this.opts.signal } : {}), ...(this.opts.deadline ? { deadline: this.opts.deadline } : {}) };
  }

  emit(e: CopyEvent): void {
    this.opts.onEvent?.(e);
  }

  warn(message: string): void {
    this.warnings.push(message);
    this.emit({ type: "warning", message });
  }

  /** Blobs ferry made itself (a converted image's config), uploaded from memory instead of read from the source. */
  private readonly generated = new Map<string, Buffer>();

  /** Registers a blob ferry made (small: a config); `copyBlob` then uploads it from these bytes. */
  addGenerated(digest: string, bytes: Buffer): void {
    this.generated.set(digest, bytes);
  }

  /** Copies one blob once per session: skip if present, mount if possible, else stream. */
  copyBlob(desc: Descriptor, platform = ""): Promise<void> {
    return once(this.blobs, desc.digest, () => this.doCopyBlob(desc, platform));
  }

  private async doCopyBlob(desc: Descriptor, platform: string): Promise<void> {
    await this.limiter.run(async () => {
      const need = await this.prepareBlob(desc, platform);
      if (need.upload) await this.uploadBlob(desc, platform, undefined, need.location);
    });
  }

  /**
   * What a blob needs at this destination: nothing (already there, mounted, a foreign layer, a
   * dry run), or an upload (with the upload location a refused mount left open).
   */
  async prepareBlob(desc: Descriptor, platform = ""): Promise<{ upload: false } | { upload: true; location?: string }> {
    const call = this.callOptions();
    const event = (action: BlobAction) => this.emit({ type: "blob", digest: desc.digest, size: desc.size, platform, action });
    const done = (counter: "skipped" | "mounted" | "foreignSkipped", action: BlobAction) => {
      if (counter === "mounted") this.sink.blobNoted?.(desc.digest, this.source.name);
      this.stats[counter]++;
      event(action);
      return { upload: false } as const;
    };
    if (isForeignLayerType(desc.mediaType) || (desc.urls && desc.urls.length > 0)) {
      const has = this.opts.includeForeign ? await this.source.blobHead(desc.digest, call).catch(() => undefined) : undefined;
      // As skopeo and crane: foreign layers live at their URLs; the manifest still names them.
      if (has === undefined) return done("foreignSkipped", "foreign-skipped");
    }
    // Where this process put the blob, read from this same source: one mount instead of HEAD and upload.
    const ours = this.opts.dryRun || this.generated.has(desc.digest) ? undefined : this.sink.blobMountKnown?.(desc.digest, this.source.name, call);
    const known = await onSide(ours, "destination");
    if (known?.mounted) return done("mounted", "mounted");
    // The session a refused mount opened is used for the upload, or cancelled (best effort).
    const opened = known?.location;
    const drop = async () => opened && (await this.sink.blobUploadCancel?.(opened));
    if ((await onSide(this.sink.blobHead(desc.digest, call), "destination")) !== undefined) {
      await drop();
      return done("skipped", "skipped");
    }
    if (this.opts.dryRun) {
      event(this.canMount() ? "would-mount" : "would-copy");
      return { upload: false };
    }
    const m = this.generated.has(desc.digest) ? undefined : await onSide(this.sink.blobMount?.(desc.digest, this.source, call), "destination");
    const location = (m?.mounted === false ? m.location : undefined) ?? opened;
    if (location !== opened || m?.mounted) await drop();
    if (m?.mounted) return done("mounted", "mounted");
    return { upload: true, ...(location ? { location } : {}) };
  }

  /** Uploads a blob: from `open` when given (a shared read of the source), else from the source (or ferry's own bytes). */
  async uploadBlob(desc: Descriptor, platform: string, open?: () => Promise<Readable>, location?: string): Promise<void> {
    const made = this.generated.get(desc.digest);
    const body = open ?? (made ? async () => Readable.from([made]) : () => this.openCounted(desc));
    this.emit({ type: "blob", digest: desc.digest, size: desc.size, platform, action: "start" });
    const large = this.opts.largeBlobs;
    if (large && !open && !made && desc.size >= large.minSize) await onSide(large.copy(desc, location), "destination");
    else await this.sink.blobPut(desc, body, { ...this.callOptions(), ...(location ? { location } : {}) });
    if (!made) this.sink.blobNoted?.(desc.digest, this.source.name);
    this.stats.copied++;
    this.stats.bytes += desc.size;
    this.emit({ type: "blob", digest: desc.digest, size: desc.size, platform, action: "copied" });
  }

  /** Mounts a blob from another repository of the destination's registry (one another session just filled); false when refused. */
  async mountFrom(desc: Descriptor, from: ImageSource, platform: string): Promise<boolean> {
    const m = this.sink.blobMount ? await onSide(this.sink.blobMount(desc.digest, from, this.callOptions()), "destination") : undefined;
    if (!m?.mounted) return false;
    this.sink.blobNoted?.(desc.digest, this.source.name);
    this.stats.mounted++;
    this.emit({ type: "blob", digest: desc.digest, size: desc.size, platform, action: "mounted" });
    return true;
  }

  /** Marks a blob as handled elsewhere (a fan-out); later `copyBlob` calls wait for `done`. */
  adoptBlob(digest: string, done: Promise<void>): void {
    this.blobs.set(digest, done);
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
    const stream = await onSide(this.source.blobGet(desc, this.callOptions()), "source");
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
   * destination already has it. The unit of work of a pipeline copy task. Resolves to what it did.
   */
  copyManifest(desc: Descriptor, platform = "", known?: RawManifest): Promise<ManifestAction> {
    return once(this.manifests, desc.digest, () => this.doCopyManifest(desc, platform, known));
  }

  private async doCopyManifest(desc: Descriptor, platform: string, known?: RawManifest): Promise<ManifestAction> {
    const call = this.callOptions();
    const there = await onSide(this.sink.manifestHead(desc.digest, call), "destination");
    if (there) {
      this.stats.manifestsSkipped++;
      this.emit({ type: "manifest", digest: desc.digest, mediaType: desc.mediaType, platform, action: "exists" });
      return "exists";
    }
    const raw = known?.digest === desc.digest ? known : await onSide(this.source.manifestGet(desc.digest, call), "source");
    await this.copyReferenced(raw.manifest, platform);
    await this.putManifest(raw.digest, raw.bytes, raw.mediaType, platform);
    return this.opts.dryRun ? "would-push" : "pushed";
  }

  /**
   * Copies what a manifest references (its blobs, or an index's children) but not the manifest
   * itself: a referrer's content, whose manifest is pushed later, after its subject.
   */
  async copyContent(desc: Descriptor, platform = "", skipAbove?: number, known?: RawManifest): Promise<void> {
    if (await onSide(this.sink.manifestHead(desc.digest, this.callOptions()), "destination")) return;
    const raw = known?.digest === desc.digest ? known : await onSide(this.source.manifestGet(desc.digest, this.callOptions()), "source");
    await this.copyReferenced(raw.manifest, platform, skipAbove);
  }

  /** Copies what a manifest references: an index's children, an image's config and layers (those under `skipAbove`: larger ones are tasks of their own), or an artifact's blobs. */
  async copyReferenced(m: AnyManifest, platform: string, skipAbove?: number): Promise<void> {
    if (m.kind === "index") {
      await Promise.all(m.manifests.map((d) => this.copyManifest(d, childLabel(d, platform))));
    } else if (m.kind === "manifest" || m.kind === "artifact") {
      const blobs = (m.kind === "manifest" ? [m.config, ...m.layers] : m.blobs).filter((d) => skipAbove === undefined || d.size < skipAbove);
      await Promise.all(blobs.map((d) => this.copyBlob(d, platform)));
    } else {
      throw new FerryError("UNSUPPORTED", `${this.source.name}: Docker schema 1 manifests are not copied (deprecated, rejected by current registries)`, {
        side: "source",
      });
    }
  }

  /** PUTs manifest bytes (by digest or tag); in a dry run only reports it. */
  async putManifest(ref: string, bytes: Buffer, mediaType: string, platform: string): Promise<string | undefined> {
    const digest = isDigest(ref) ? ref : undefined;
    const caution = digest ? undefined : this.sink.manifestPutWarning?.(ref, mediaType);
    if (caution) this.warn(caution);
    if (this.opts.dryRun) {
      this.emit({ type: "manifest", digest: digest ?? ref, mediaType, platform, action: "would-push" });
      return digest;
    }
    let pushed: string;
    if (this.sink.manifestPutResult) {
      const r = await onSide(this.sink.manifestPutResult(ref, bytes, mediaType, this.callOptions()), "destination");
      pushed = r.digest;
      if (r.subject) this.subjectsAnswered.add(r.subject);
    } else pushed = await onSide(this.sink.manifestPut(ref, bytes, mediaType, this.callOptions()), "destination");
    this.stats.manifestsPushed++;
    this.emit({ type: "manifest", digest: pushed, mediaType, platform, action: "pushed" });
    return pushed;
  }
}

/** The map's promise for `key`, made once. */
function once<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let p = map.get(key);
  if (!p) {
    p = make();
    map.set(key, p);
  }
  return p;
}
