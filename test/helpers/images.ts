/**
 * Generates random images (any shape, OCI or Docker media types) and writes them straight into
 * a registry or an OCI image layout directory, so no test ever pulls from the internet. Layer
 * bytes are a deterministic AES-CTR stream: a 1 GiB layer is hashed and pushed without ever
 * being held in memory.
 */
import { createCipheriv, createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { digestOf } from "../../lib/oci/digest.ts";
import type { Platform } from "../../lib/oci/manifest.ts";
import {
  DOCKER_CONFIG,
  DOCKER_LAYER_GZIP,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER_GZIP,
  OCI_MANIFEST,
} from "../../lib/oci/media-types.ts";
import type { RegistryClient } from "../../lib/registry/client.ts";

/** A blob: its descriptor fields and a way to stream it (again and again). */
export interface BlobSpec {
  digest: string;
  size: number;
  mediaType: string;
  open(): Readable;
  urls?: string[];
  /** Not pushed to the registry (a foreign layer that lives elsewhere). */
  external?: boolean;
}

/** A manifest or index with everything it references. */
export interface ManifestSpec {
  bytes: Buffer;
  digest: string;
  mediaType: string;
  blobs: BlobSpec[];
  children: ManifestSpec[];
}

const CHUNK = 1024 * 1024;

/** Deterministic pseudo-random bytes: AES-128-CTR keystream of `seed`. */
export function randomStream(size: number, seed: string): Readable {
  const key = createHash("sha256").update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  const zeros = Buffer.alloc(CHUNK);
  let left = size;
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const n = Math.min(CHUNK, left);
      left -= n;
      this.push(cipher.update(n === CHUNK ? zeros : zeros.subarray(0, n)));
    },
  });
}

/** A random blob of `size` bytes; its digest is computed by streaming it once. */
export function randomBlob(size: number, seed: string, mediaType = OCI_LAYER_GZIP): BlobSpec {
  const key = createHash("sha256").update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  const h = createHash("sha256");
  const zeros = Buffer.alloc(CHUNK);
  for (let left = size; left > 0; left -= CHUNK) h.update(cipher.update(left >= CHUNK ? zeros : zeros.subarray(0, left)));
  return { digest: `sha256:${h.digest("hex")}`, size, mediaType, open: () => randomStream(size, seed) };
}

/** A blob with these exact bytes. */
export function bytesBlob(bytes: Buffer, mediaType: string): BlobSpec {
  return { digest: digestOf(bytes), size: bytes.byteLength, mediaType, open: () => Readable.from([bytes]) };
}

function descriptor(b: { mediaType: string; digest: string; size: number; urls?: string[] }) {
  return { mediaType: b.mediaType, digest: b.digest, size: b.size, ...(b.urls ? { urls: b.urls } : {}) };
}

/** Builds an image manifest from a config and layers; `json` lets a test add fields or formatting. */
export function imageManifest(opts: {
  format?: "oci" | "docker";
  config: BlobSpec;
  layers: BlobSpec[];
  annotations?: Record<string, string>;
  artifactType?: string;
  subject?: { mediaType: string; digest: string; size: number };
  /** Serialise differently (key order, whitespace): bytes are what count. */
  serialise?: (obj: Record<string, unknown>) => string;
}): ManifestSpec {
  const mediaType = opts.format === "docker" ? DOCKER_MANIFEST : OCI_MANIFEST;
  const obj: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType,
    ...(opts.artifactType ? { artifactType: opts.artifactType } : {}),
    config: descriptor(opts.config),
    layers: opts.layers.map(descriptor),
    ...(opts.subject ? { subject: opts.subject } : {}),
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
  };
  const bytes = Buffer.from((opts.serialise ?? ((o) => JSON.stringify(o, null, 2)))(obj));
  return { bytes, digest: digestOf(bytes), mediaType, blobs: [opts.config, ...opts.layers], children: [] };
}

/** Builds an index over child manifests. */
export function imageIndex(opts: {
  format?: "oci" | "docker";
  entries: Array<{ manifest: ManifestSpec; platform?: Platform; annotations?: Record<string, string> }>;
  annotations?: Record<string, string>;
  serialise?: (obj: Record<string, unknown>) => string;
}): ManifestSpec {
  const mediaType = opts.format === "docker" ? DOCKER_LIST : OCI_INDEX;
  const obj: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType,
    manifests: opts.entries.map((e) => ({
      mediaType: e.manifest.mediaType,
      digest: e.manifest.digest,
      size: e.manifest.bytes.byteLength,
      ...(e.platform ? { platform: e.platform } : {}),
      ...(e.annotations ? { annotations: e.annotations } : {}),
    })),
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
  };
  const bytes = Buffer.from((opts.serialise ?? ((o) => JSON.stringify(o, null, 2)))(obj));
  return { bytes, digest: digestOf(bytes), mediaType, blobs: [], children: opts.entries.map((e) => e.manifest) };
}

/** A config blob for a platform. */
export function configBlob(platform: Platform, format: "oci" | "docker", seed: string, layerCount: number): BlobSpec {
  const cfg = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    created: "2026-11-22T00:00:00Z",
    config: { Env: [`SEED=${seed}`] },
    rootfs: { type: "layers", diff_ids: Array.from({ length: layerCount }, (_, i) => digestOf(Buffer.from(`${seed}/${i}`))) },
  };
  return bytesBlob(Buffer.from(JSON.stringify(cfg)), format === "docker" ? DOCKER_CONFIG : OCI_CONFIG);
}

export const PLATFORMS: Platform[] = [
  { os: "linux", architecture: "amd64" },
  { os: "linux", architecture: "arm64", variant: "v8" },
  { os: "linux", architecture: "arm", variant: "v7" },
  { os: "linux", architecture: "s390x" },
  { os: "linux", architecture: "ppc64le" },
  { os: "linux", architecture: "386" },
];

/** A single-platform image with `layers` random layers of `layerSize` bytes. */
export function randomImage(opts: { platform?: Platform; layers?: number; layerSize?: number; format?: "oci" | "docker"; seed?: string }): ManifestSpec {
  const format = opts.format ?? "oci";
  const platform = opts.platform ?? { os: "linux", architecture: "amd64" };
  const seed = opts.seed ?? "seed";
  const n = opts.layers ?? 2;
  const layers = Array.from({ length: n }, (_, i) =>
    randomBlob(opts.layerSize ?? 1024, `${seed}/${platform.architecture}/${i}`, format === "docker" ? DOCKER_LAYER_GZIP : OCI_LAYER_GZIP),
  );
  return imageManifest({ format, config: configBlob(platform, format, `${seed}/${platform.architecture}`, n), layers });
}

/**
 * A multi-platform index; with `attestations`, a buildx-style attestation manifest per platform
 * (`unknown/unknown`, `vnd.docker.reference.*` annotations).
 */
export function randomIndex(opts: {
  platforms?: Platform[] | number;
  layers?: number;
  layerSize?: number;
  format?: "oci" | "docker";
  seed?: string;
  attestations?: boolean;
}): ManifestSpec {
  const platforms = typeof opts.platforms === "number" ? PLATFORMS.slice(0, opts.platforms) : (opts.platforms ?? PLATFORMS.slice(0, 3));
  const format = opts.format ?? "oci";
  const seed = opts.seed ?? "seed";
  const entries: Array<{ manifest: ManifestSpec; platform?: Platform; annotations?: Record<string, string> }> = [];
  for (const platform of platforms) {
    entries.push({ manifest: randomImage({ ...opts, platform, format, seed }), platform });
  }
  if (opts.attestations) {
    for (const e of [...entries]) {
      const att = imageManifest({
        format: "oci",
        config: bytesBlob(Buffer.from(JSON.stringify({ architecture: "unknown", os: "unknown", seed })), OCI_CONFIG),
        layers: [
          bytesBlob(Buffer.from(JSON.stringify({ _type: "https://in-toto.io/Statement/v0.1", subject: e.manifest.digest })), "application/vnd.in-toto+json"),
        ],
      });
      entries.push({
        manifest: att,
        platform: { os: "unknown", architecture: "unknown" },
        annotations: { "vnd.docker.reference.digest": e.manifest.digest, "vnd.docker.reference.type": "attestation-manifest" },
      });
    }
  }
  return imageIndex({ format: opts.format === "docker" && !opts.attestations ? "docker" : "oci", entries });
}

/** Every distinct blob of a manifest tree. */
export function allBlobs(m: ManifestSpec): BlobSpec[] {
  const seen = new Map<string, BlobSpec>();
  const walk = (x: ManifestSpec) => {
    for (const b of x.blobs) seen.set(b.digest, b);
    for (const c of x.children) walk(c);
  };
  walk(m);
  return [...seen.values()];
}

/** Every manifest of a tree, children before parents. */
export function allManifests(m: ManifestSpec): ManifestSpec[] {
  const out: ManifestSpec[] = [];
  const walk = (x: ManifestSpec) => {
    for (const c of x.children) walk(c);
    if (!out.some((o) => o.digest === x.digest)) out.push(x);
  };
  walk(m);
  return out;
}

/** Pushes a generated image into a registry: blobs, children by digest, then the root by tag. */
export async function pushImage(client: RegistryClient, repo: string, tag: string | undefined, m: ManifestSpec): Promise<void> {
  const blobs = allBlobs(m).filter((b) => !b.external);
  let next = 0;
  const worker = async () => {
    while (next < blobs.length) {
      const b = blobs[next++] as BlobSpec;
      if ((await client.blobHead(repo, b.digest)) !== undefined) continue;
      await client.blobPut(repo, b, async () => b.open());
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  for (const x of allManifests(m)) {
    await client.manifestPut(repo, x === m && tag ? tag : x.digest, x.bytes, x.mediaType);
  }
}

/** Writes a generated image into an OCI image layout directory, tagged `tag`. */
export async function writeOciLayout(dir: string, m: ManifestSpec, tag: string): Promise<void> {
  const blobDir = join(dir, "blobs", "sha256");
  await mkdir(blobDir, { recursive: true });
  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  for (const b of allBlobs(m).filter((x) => !x.external)) {
    await pipeline(b.open(), createWriteStream(join(blobDir, b.digest.slice(7))));
  }
  for (const x of allManifests(m)) await writeFile(join(blobDir, x.digest.slice(7)), x.bytes);
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [{ mediaType: m.mediaType, digest: m.digest, size: m.bytes.byteLength, annotations: { "org.opencontainers.image.ref.name": tag } }],
  };
  await writeFile(join(dir, "index.json"), JSON.stringify(index));
}
