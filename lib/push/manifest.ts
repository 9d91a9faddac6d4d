/**
 * The manifest of a pushed tree: the base's layers (media types mapped to the chosen format
 * where the bytes are the same) then the new layer, and the config; serialised once, compactly.
 */
import { digestOf } from "../oci/digest.ts";
import type { Descriptor } from "../oci/manifest.ts";
import { DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, OCI_CONFIG, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_MANIFEST } from "../oci/media-types.ts";

const DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar";

/** The media types of one format. */
export const FORMATS = {
  oci: { manifest: OCI_MANIFEST, config: OCI_CONFIG, layer: OCI_LAYER_GZIP },
  docker: { manifest: DOCKER_MANIFEST, config: DOCKER_CONFIG, layer: DOCKER_LAYER_GZIP },
} as const;

export type ImageFormat = keyof typeof FORMATS;

/** Same bytes, other format's name: gzip and plain tar layers map; anything else is kept as is. */
const LAYER_TYPE: Record<ImageFormat, Record<string, string>> = {
  oci: { [DOCKER_LAYER_GZIP]: OCI_LAYER_GZIP, [DOCKER_LAYER_TAR]: OCI_LAYER_TAR },
  docker: { [OCI_LAYER_GZIP]: DOCKER_LAYER_GZIP, [OCI_LAYER_TAR]: DOCKER_LAYER_TAR },
};

/** A built manifest: bytes as pushed, and the descriptors it names. */
export interface BuiltManifest {
  bytes: Buffer;
  digest: string;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** What the manifest is built from. */
export interface ManifestInput {
  format: ImageFormat;
  configBytes: Buffer;
  baseLayers: Descriptor[];
  layer: { digest: string; size: number };
  /** OCI only: `org.opencontainers.image.base.*` annotations (image-spec annotations.md). */
  base?: { name: string; digest: string } | undefined;
}

/** The manifest object, serialised with a fixed key order. */
export function buildManifest(input: ManifestInput): BuiltManifest {
  const t = FORMATS[input.format];
  const config: Descriptor = { mediaType: t.config, digest: digestOf(input.configBytes), size: input.configBytes.byteLength };
  const layers: Descriptor[] = [
    ...input.baseLayers.map((d) => ({ ...d, mediaType: LAYER_TYPE[input.format][d.mediaType] ?? d.mediaType })),
    { mediaType: t.layer, digest: input.layer.digest, size: input.layer.size },
  ];
  const annotations =
    input.format === "oci" && input.base
      ? { "org.opencontainers.image.base.digest": input.base.digest, "org.opencontainers.image.base.name": input.base.name }
      : undefined;
  const obj = { schemaVersion: 2, mediaType: t.manifest, config, layers, ...(annotations ? { annotations } : {}) };
  const bytes = Buffer.from(JSON.stringify(obj));
  return { bytes, digest: digestOf(bytes), mediaType: t.manifest, config, layers };
}
