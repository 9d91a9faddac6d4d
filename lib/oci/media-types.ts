/** Media types of the OCI image spec and Docker's schema 2, and the Accept list we send. */

export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws";
export const DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json";
/** OCI 1.1.0-rc artifact manifest: withdrawn from the final 1.1.0, still found on registries; distribution 2.8 refuses its PUT. */
export const OCI_ARTIFACT_MANIFEST = "application/vnd.oci.artifact.manifest.v1+json";

export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
export const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
export const OCI_EMPTY = "application/vnd.oci.empty.v1+json";
export const OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
export const OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar";
export const OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd";
export const DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";
export const DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
export const OCI_NONDISTRIBUTABLE_PREFIX = "application/vnd.oci.image.layer.nondistributable.";

/** Digest and bytes of the OCI empty descriptor (`{}`). */
export const EMPTY_JSON_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

/**
 * Everything we can handle, sent identically on HEAD and GET: distribution answers a request
 * whose Accept lacks OCI types with 404, and serves one platform's child when it lacks list types.
 */
export const MANIFEST_ACCEPT: readonly string[] = [
  OCI_INDEX,
  OCI_MANIFEST,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  DOCKER_SCHEMA1_SIGNED,
  DOCKER_SCHEMA1,
  OCI_ARTIFACT_MANIFEST,
];

/** True for index-like media types (OCI index, Docker manifest list). */
export function isIndexType(mediaType: string): boolean {
  return mediaType === OCI_INDEX || mediaType === DOCKER_LIST;
}

/** True for single-image manifest media types (OCI, Docker schema 2). */
export function isImageManifestType(mediaType: string): boolean {
  return mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST || mediaType === OCI_ARTIFACT_MANIFEST;
}

/** True for any manifest media type we know. */
export function isManifestType(mediaType: string): boolean {
  return MANIFEST_ACCEPT.includes(mediaType);
}

/** True for foreign / non-distributable layers, which registries usually do not hold. */
export function isForeignLayerType(mediaType: string): boolean {
  return mediaType === DOCKER_FOREIGN_LAYER || mediaType.startsWith(OCI_NONDISTRIBUTABLE_PREFIX);
}

/** Strips parameters (`; charset=utf-8`) and lowercases a Content-Type. */
export function bareMediaType(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const t = contentType.split(";")[0]?.trim().toLowerCase();
  return t ? t : undefined;
}
