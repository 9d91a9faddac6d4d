/**
 * Descriptors, manifests and indexes. Parsing caps the size, sniffs a missing `mediaType`, and
 * keeps the raw bytes next to the parsed value: the bytes are what we push, never a re-serialisation.
 */
import { FerryError } from "../errors.ts";
import { digestOf, isDigest } from "./digest.ts";
import { isSchema1, parseSchema1, type Schema1Manifest } from "./schema1.ts";
import {
  bareMediaType,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  DOCKER_SCHEMA1,
  DOCKER_SCHEMA1_SIGNED,
  isIndexType,
  OCI_ARTIFACT_MANIFEST,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_MANIFEST,
} from "./media-types.ts";

/** Default cap on manifest reads (regclient's pull limit). */
export const DEFAULT_MAX_MANIFEST_BYTES = 8 * 1024 * 1024;

/** Platform of an index entry. */
export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  "os.version"?: string;
  "os.features"?: string[];
  features?: string[];
}

/** A content descriptor (image-spec descriptor.md). Unknown fields are kept in the raw bytes only. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  data?: string;
  artifactType?: string;
  platform?: Platform;
}

/** An image manifest (OCI or Docker schema 2); an artifact may use one too (OCI 1.1 `artifactType`). */
export interface ImageManifest {
  kind: "manifest";
  schemaVersion: number;
  mediaType: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** An OCI index or Docker manifest list. */
export interface ImageIndex {
  kind: "index";
  schemaVersion: number;
  mediaType: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export type { Schema1Manifest } from "./schema1.ts";

/**
 * An OCI 1.1.0-rc artifact manifest (`application/vnd.oci.artifact.manifest.v1+json`), withdrawn
 * before 1.1.0 but still pushed by some tools (oras, notation): no schemaVersion, no config,
 * `blobs` instead of layers (image-spec v1.1.0-rc2 `artifact.md`).
 */
export interface ArtifactManifest {
  kind: "artifact";
  mediaType: string;
  artifactType: string;
  blobs: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export type AnyManifest = ImageManifest | ImageIndex | Schema1Manifest | ArtifactManifest;

/** Parsed manifest plus the exact bytes and their digest. */
export interface RawManifest {
  bytes: Buffer;
  digest: string;
  mediaType: string;
  manifest: AnyManifest;
}

/** Builds a descriptor for a raw manifest (mediaType, digest, size). */
export function descriptorOf(raw: RawManifest): Descriptor {
  return { mediaType: raw.mediaType, digest: raw.digest, size: raw.bytes.byteLength };
}

/**
 * Parses manifest bytes. `contentType` is the server's header (parameters ignored); when the JSON
 * has a `mediaType` it must agree. Without either, the type is sniffed from the shape.
 */
export function parseManifest(bytes: Buffer, contentType?: string, opts: { maxBytes?: number } = {}): RawManifest {
  const max = opts.maxBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
  if (bytes.byteLength > max) {
    throw new FerryError("MANIFEST_TOO_LARGE", `manifest of ${bytes.byteLength} bytes exceeds the ${max}-byte cap`);
  }
  const json = parseJson(bytes);
  const header = bareMediaType(contentType);
  const field = typeof json.mediaType === "string" ? json.mediaType : undefined;
  if (field && header && field !== header && header !== "application/json" && header !== "application/octet-stream") {
    throw new FerryError("MEDIA_TYPE_MISMATCH", `manifest mediaType ${field} does not match Content-Type ${header}`);
  }
  const mediaType = field ?? (header && header !== "application/json" && header !== "application/octet-stream" ? header : sniff(json));
  if (isSchema1(json, mediaType)) return { bytes, mediaType, ...parseSchema1(bytes, json, mediaType) };
  const manifest = toManifest(json, mediaType);
  return { bytes, digest: digestOf(bytes), mediaType, manifest };
}

/**
 * The digest registries give these manifest bytes (`Docker-Content-Digest`): the digest of the
 * bytes, except for a signed schema 1 manifest, whose digest is that of its payload without the
 * signatures (see schema1.ts). Throws MANIFEST_INVALID when the bytes are not a JSON object.
 */
export function manifestDigestOf(bytes: Buffer, algorithm = "sha256"): string {
  const json = parseJson(bytes);
  if (json.schemaVersion !== 1) return digestOf(bytes, algorithm);
  const mediaType = typeof json.mediaType === "string" ? json.mediaType : sniff(json);
  return parseSchema1(bytes, json, mediaType, algorithm).digest;
}

function parseJson(bytes: Buffer): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch (e) {
    throw new FerryError("MANIFEST_INVALID", `manifest is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(json)) throw new FerryError("MANIFEST_INVALID", "manifest is not a JSON object");
  return json;
}

function sniff(json: Record<string, unknown>): string {
  if (json.schemaVersion === 1) return Array.isArray(json.signatures) ? DOCKER_SCHEMA1_SIGNED : DOCKER_SCHEMA1;
  if (Array.isArray(json.manifests)) return OCI_INDEX;
  if (Array.isArray(json.blobs) && json.config === undefined && json.schemaVersion === undefined) return OCI_ARTIFACT_MANIFEST;
  if (isObject(json.config)) {
    return json.config.mediaType === "application/vnd.docker.container.image.v1+json" ? DOCKER_MANIFEST : OCI_MANIFEST;
  }
  throw new FerryError("MANIFEST_INVALID", "cannot tell the manifest's type: no mediaType, manifests, blobs or config");
}

function toManifest(json: Record<string, unknown>, mediaType: string): AnyManifest {
  if (mediaType === OCI_ARTIFACT_MANIFEST) return toArtifact(json, mediaType);
  if (json.schemaVersion !== 2) throw new FerryError("MANIFEST_INVALID", `unsupported schemaVersion ${String(json.schemaVersion)}`);
  const common = {
    schemaVersion: 2,
    mediaType,
    ...(typeof json.artifactType === "string" ? { artifactType: json.artifactType } : {}),
    ...(json.subject !== undefined ? { subject: toDescriptor(json.subject, "subject") } : {}),
    ...(isStringMap(json.annotations) ? { annotations: json.annotations } : {}),
  };
  if (isIndexType(mediaType) || (Array.isArray(json.manifests) && !json.config)) {
    if (!Array.isArray(json.manifests)) throw new FerryError("MANIFEST_INVALID", "index has no manifests array");
    return { kind: "index", ...common, manifests: json.manifests.map((d, i) => toDescriptor(d, `manifests[${i}]`)) };
  }
  if (!isObject(json.config)) throw new FerryError("MANIFEST_INVALID", "manifest has no config descriptor");
  const layers = json.layers === undefined ? [] : json.layers;
  if (!Array.isArray(layers)) throw new FerryError("MANIFEST_INVALID", "manifest layers is not an array");
  return {
    kind: "manifest",
    ...common,
    config: toDescriptor(json.config, "config"),
    layers: layers.map((d, i) => toDescriptor(d, `layers[${i}]`)),
  };
}

/** An artifact manifest has no schemaVersion and no config; its `artifactType` is required. */
function toArtifact(json: Record<string, unknown>, mediaType: string): ArtifactManifest {
  if (typeof json.artifactType !== "string" || !json.artifactType) throw new FerryError("MANIFEST_INVALID", "artifact manifest has no artifactType");
  const blobs = json.blobs === undefined ? [] : json.blobs;
  if (!Array.isArray(blobs)) throw new FerryError("MANIFEST_INVALID", "artifact manifest blobs is not an array");
  return {
    kind: "artifact",
    mediaType,
    artifactType: json.artifactType,
    blobs: blobs.map((d, i) => toDescriptor(d, `blobs[${i}]`)),
    ...(json.subject !== undefined ? { subject: toDescriptor(json.subject, "subject") } : {}),
    ...(isStringMap(json.annotations) ? { annotations: json.annotations } : {}),
  };
}

function toDescriptor(v: unknown, where: string): Descriptor {
  if (!isObject(v)) throw new FerryError("MANIFEST_INVALID", `${where} is not a descriptor object`);
  const { mediaType, digest, size } = v;
  if (typeof mediaType !== "string") throw new FerryError("MANIFEST_INVALID", `${where}.mediaType missing`);
  if (typeof digest !== "string" || !isDigest(digest)) throw new FerryError("MANIFEST_INVALID", `${where}.digest invalid`);
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    throw new FerryError("MANIFEST_INVALID", `${where}.size invalid`);
  }
  const d: Descriptor = { mediaType, digest, size };
  if (Array.isArray(v.urls) && v.urls.every((u) => typeof u === "string")) d.urls = v.urls as string[];
  if (isStringMap(v.annotations)) d.annotations = v.annotations;
  if (typeof v.data === "string") d.data = v.data;
  if (typeof v.artifactType === "string") d.artifactType = v.artifactType;
  if (isObject(v.platform) && typeof v.platform.os === "string" && typeof v.platform.architecture === "string") {
    d.platform = v.platform as unknown as Platform;
  }
  return d;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isStringMap(v: unknown): v is Record<string, string> {
  return isObject(v) && Object.values(v).every((x) => typeof x === "string");
}

/** Media type for a new index built from entries of an existing one (keeps OCI vs Docker). */
export function indexMediaTypeFor(source: string): string {
  return source === DOCKER_LIST ? DOCKER_LIST : OCI_INDEX;
}

/** Default config media type check used by sniffing and tests. */
export const KNOWN_CONFIG_TYPES = [OCI_CONFIG, "application/vnd.docker.container.image.v1+json"];
