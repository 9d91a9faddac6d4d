/**
 * `pushTree`: an unpacked root filesystem becomes one layer, a config and a manifest, optionally
 * on top of a base image, and goes to a sink (registry repository or OCI layout): base blobs,
 * the layer, the config, then the manifest under its tag.
 */
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { FerryError, onSide } from "../errors.ts";
import type { Descriptor, Platform } from "../oci/manifest.ts";
import { formatPlatform } from "../oci/platform.ts";
import type { CallOptions } from "../registry/client.ts";
import { type CopyEvent, CopySession } from "../replicate/copy-session.ts";
import type { ImageSink, ImageSource } from "../replicate/ports.ts";
import { type BaseImage, resolveBase } from "./base.ts";
import { buildConfig, type ImageSettings } from "./config.ts";
import { type LayerDigests, measureLayer, openLayer } from "./layer.ts";
import { type BuiltManifest, buildManifest, FORMATS, type ImageFormat } from "./manifest.ts";

/** What `pushTree` reports as it goes: the base's blob copies as `ferry copy` reports them, and its own steps. */
export type PushEvent =
  | CopyEvent
  | { type: "skip"; path: string; why: string }
  | { type: "measured"; layer: LayerDigests }
  | { type: "base"; digest: string; platform: string; layers: number };

/** A push, as the CLI (or any caller) asks for it. */
export interface PushRequest {
  /** The root filesystem directory. */
  tree: string;
  /** The destination tag. */
  tag: string;
  /** Default: the base's format, else `oci`. */
  format?: ImageFormat | undefined;
  /** The platform wanted: picks the base's entry of an index; the image's platform without a base. */
  platform: Platform;
  /** The user named `platform` (a single-platform base must then match it). */
  platformExplicit: boolean;
  settings: ImageSettings;
  /** Seconds since the epoch: every entry's mtime, and the config's `created`. */
  mtime: number;
  base?: { source: ImageSource; ref: string; name: string } | undefined;
  /** Compute and report the digests; write nothing (and do not contact the destination). */
  dryRun?: boolean;
  signal?: AbortSignal;
  onEvent?: (e: PushEvent) => void;
}

/** What a push did. */
export interface PushResult {
  destination: string;
  tag: string;
  digest: string;
  mediaType: string;
  size: number;
  addressByTag: string;
  addressByDigest: string;
  platform: string;
  layer: { digest: string; size: number; diffId: string; mediaType: string };
  config: { digest: string; size: number; mediaType: string };
  /** Layers of the image, the base's included. */
  layers: number;
  base?: { name: string; digest: string; layers: number };
  blobs: { pushed: number; skipped: number; mounted: number };
  /** The tag already held this digest: nothing was written. */
  upToDate: boolean;
  dryRun: boolean;
  /** Paths left out of the layer (devices, sockets, FIFOs), with why. */
  skipped: Array<{ path: string; why: string }>;
  warnings: string[];
  durationMs: number;
}

/** Builds the image of `req.tree` and pushes it to `sink` (or, with `dryRun`, only computes it). */
export async function pushTree(sink: ImageSink, req: PushRequest): Promise<PushResult> {
  const started = Date.now();
  await checkTree(req.tree);
  const call: CallOptions = req.signal ? { signal: req.signal } : {};
  // A HEAD on the tag before the long hashing pass: bad credentials or an unreachable registry fail fast.
  const current = req.dryRun ? undefined : await onSide(sink.manifestHead(req.tag, call), "destination");
  const base = req.base ? await resolveBase(req.base.source, req.base.ref, req.platform, req.platformExplicit, call) : undefined;
  if (base) req.onEvent?.({ type: "base", digest: base.digest, platform: formatPlatform(base.platform), layers: base.manifest.layers.length });
  const skipped: PushResult["skipped"] = [];
  const walk = {
    mtime: req.mtime,
    onSkip: (path: string, why: string) => {
      skipped.push({ path, why });
      req.onEvent?.({ type: "skip", path, why });
    },
  };
  const layer = await measureLayer(req.tree, { ...walk, ...(req.signal ? { signal: req.signal } : {}) });
  req.onEvent?.({ type: "measured", layer });
  const image = assemble(req, base, layer);
  const result = resultOf(sink, req, base, layer, image, skipped);
  if (req.dryRun) return done(result, started);
  if (current?.digest === image.manifest.digest) return done({ ...result, upToDate: true }, started);
  const blobs = await upload(sink, req, base, image, () => openLayer(req.tree, { mtime: req.mtime }));
  await onSide(sink.manifestPut(req.tag, image.manifest.bytes, image.manifest.mediaType, call), "destination");
  return done({ ...result, blobs }, started);
}

/** The config and manifest bytes. */
interface Assembled {
  configBytes: Buffer;
  manifest: BuiltManifest;
  platform: Platform;
  format: ImageFormat;
  warnings: string[];
}

function assemble(req: PushRequest, base: BaseImage | undefined, layer: LayerDigests): Assembled {
  const format = req.format ?? base?.format ?? "oci";
  const platform = base?.platform ?? req.platform;
  const { config, warnings } = buildConfig({
    platform,
    created: req.mtime,
    settings: req.settings,
    diffId: layer.diffId,
    base: base ? { config: base.config, layers: base.manifest.layers.length } : undefined,
  });
  const configBytes = Buffer.from(JSON.stringify(config));
  const manifest = buildManifest({
    format,
    configBytes,
    baseLayers: base?.manifest.layers ?? [],
    layer,
    base: base && req.base ? { name: req.base.name, digest: base.rootDigest } : undefined,
  });
  return { configBytes, manifest, platform, format, warnings };
}

/** Base layers (skipped, mounted or copied as `ferry copy` does), the new layer, the config. */
async function upload(sink: ImageSink, req: PushRequest, base: BaseImage | undefined, image: Assembled, open: () => Readable) {
  const call: CallOptions = req.signal ? { signal: req.signal } : {};
  const counts = { pushed: 0, skipped: 0, mounted: 0 };
  if (base && req.base) {
    const session = new CopySession(req.base.source, sink, { ...call, ...(req.onEvent ? { onEvent: req.onEvent } : {}) });
    await Promise.all(base.manifest.layers.map((d) => session.copyBlob(d, formatPlatform(base.platform))));
    counts.pushed += session.stats.copied;
    counts.skipped += session.stats.skipped;
    counts.mounted += session.stats.mounted;
  }
  const own = image.manifest.layers[image.manifest.layers.length - 1] as Descriptor;
  const blobs: Array<[Descriptor, () => Readable]> = [
    [own, open],
    [image.manifest.config, () => Readable.from([image.configBytes])],
  ];
  for (const [desc, body] of blobs) {
    const emit = (action: "copied" | "skipped" | "start") => req.onEvent?.({ type: "blob", digest: desc.digest, size: desc.size, platform: "", action });
    if ((await onSide(sink.blobHead(desc.digest, call), "destination")) !== undefined) {
      counts.skipped++;
      emit("skipped");
      continue;
    }
    emit("start");
    await onSide(
      sink.blobPut(desc, async () => body(), call),
      "destination",
    );
    counts.pushed++;
    emit("copied");
  }
  return counts;
}

function resultOf(
  sink: ImageSink,
  req: PushRequest,
  base: BaseImage | undefined,
  layer: LayerDigests,
  image: Assembled,
  skipped: PushResult["skipped"],
): PushResult {
  const m = image.manifest;
  return {
    destination: sink.name,
    tag: req.tag,
    digest: m.digest,
    mediaType: m.mediaType,
    size: m.bytes.byteLength,
    addressByTag: sink.address(req.tag),
    addressByDigest: sink.address(m.digest),
    platform: formatPlatform(image.platform),
    layer: { digest: layer.digest, size: layer.size, diffId: layer.diffId, mediaType: FORMATS[image.format].layer },
    config: { digest: m.config.digest, size: m.config.size, mediaType: m.config.mediaType },
    layers: m.layers.length,
    ...(base && req.base ? { base: { name: req.base.name, digest: base.digest, layers: base.manifest.layers.length } } : {}),
    blobs: { pushed: 0, skipped: 0, mounted: 0 },
    upToDate: false,
    dryRun: req.dryRun === true,
    skipped,
    warnings: image.warnings,
    durationMs: 0,
  };
}

function done(r: PushResult, started: number): PushResult {
  return { ...r, durationMs: Date.now() - started };
}

/** Refuses a path that is not a directory, before anything else is done. */
async function checkTree(tree: string): Promise<void> {
  let isDir: boolean;
  try {
    isDir = (await stat(tree)).isDirectory();
  } catch (e) {
    throw new FerryError("NOT_FOUND", `${tree}: no such directory (${(e as NodeJS.ErrnoException).code ?? "unreadable"})`);
  }
  if (!isDir) throw new FerryError("USAGE", `${tree} is not a directory: push wants an unpacked root filesystem`);
}
