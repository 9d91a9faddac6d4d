/**
 * The image a pushed layer goes on top of (`--base`): a single-platform image, or the entry of
 * an index for the wanted platform; its manifest, layers and parsed config.
 */
import { FerryError, onSide } from "../errors.ts";
import type { Descriptor, ImageManifest, Platform } from "../oci/manifest.ts";
import { DOCKER_MANIFEST } from "../oci/media-types.ts";
import { formatPlatform, platformMatches } from "../oci/platform.ts";
import type { CallOptions } from "../registry/client.ts";
import type { ImageSource } from "../replicate/ports.ts";
import type { ConfigJson } from "./config.ts";

/** Configs over this size are refused rather than read into memory. */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** A resolved base image. */
export interface BaseImage {
  /** The digest of the single-platform manifest used. */
  digest: string;
  /** The digest `ref` resolved to (an index's, when it was one). */
  rootDigest: string;
  format: "oci" | "docker";
  manifest: ImageManifest;
  config: ConfigJson;
  platform: Platform;
}

/**
 * Resolves `ref` in `source` to one image: an index's entry for `wanted`; a single image must
 * match `wanted` only when the user named it (`explicit`), else it is taken whatever its platform.
 */
export async function resolveBase(source: ImageSource, ref: string, wanted: Platform, explicit: boolean, call: CallOptions = {}): Promise<BaseImage> {
  const root = await onSide(source.manifestGet(ref, call), "source");
  let raw = root;
  if (root.manifest.kind === "index") {
    const entry = root.manifest.manifests.find((d) => platformMatches(wanted, d.platform));
    if (!entry) {
      const have = root.manifest.manifests.map((d) => formatPlatform(d.platform)).join(", ");
      throw new FerryError("PLATFORM_MISMATCH", `${source.address(ref)} has no ${formatPlatform(wanted)} image (it has ${have}); pass --platform`, {
        side: "source",
      });
    }
    raw = await onSide(source.manifestGet(entry.digest, call), "source");
  }
  const m = raw.manifest;
  if (m.kind !== "manifest" || m.artifactType) {
    throw new FerryError("UNSUPPORTED", `${source.address(ref)} is not a container image (${raw.mediaType}); it cannot be a base`, { side: "source" });
  }
  const config = await readConfig(source, m.config, call);
  const platform = platformOf(config);
  if ((explicit || root.manifest.kind === "index") && !platformMatches(wanted, platform)) {
    throw new FerryError("PLATFORM_MISMATCH", `${source.address(ref)} is an image for ${formatPlatform(platform)}, not ${formatPlatform(wanted)}`, {
      side: "source",
    });
  }
  return {
    digest: raw.digest,
    rootDigest: root.digest,
    format: raw.mediaType === DOCKER_MANIFEST ? "docker" : "oci",
    manifest: m,
    config,
    platform: platform ?? wanted,
  };
}

async function readConfig(source: ImageSource, desc: Descriptor, call: CallOptions): Promise<ConfigJson> {
  if (desc.size > MAX_CONFIG_BYTES)
    throw new FerryError("MANIFEST_TOO_LARGE", `the base's config is ${desc.size} bytes, over ${MAX_CONFIG_BYTES}`, { side: "source" });
  const chunks: Buffer[] = [];
  for await (const c of await onSide(source.blobGet(desc, call), "source")) chunks.push(c as Buffer);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (e) {
    throw new FerryError("MANIFEST_INVALID", `the base's config is not JSON: ${(e as Error).message}`, { side: "source" });
  }
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw new FerryError("MANIFEST_INVALID", "the base's config is not a JSON object", { side: "source" });
  return json as ConfigJson;
}

function platformOf(c: ConfigJson): Platform | undefined {
  if (typeof c.os !== "string" || typeof c.architecture !== "string") return undefined;
  return typeof c.variant === "string" && c.variant
    ? { os: c.os, architecture: c.architecture, variant: c.variant }
    : { os: c.os, architecture: c.architecture };
}
