/**
 * OCI 1.1 referrers and cosign's tag conventions as values: the referrers fallback tag
 * (`sha256-<hex>`), cosign's `sha256-<hex>.sig|.att|.sbom` tags, a referrer's descriptor, and the
 * fallback index merged without ever dropping an entry already listed (distribution spec).
 */
import { digestOf, parseDigest } from "./digest.ts";
import type { Descriptor, RawManifest } from "./manifest.ts";
import { OCI_INDEX } from "./media-types.ts";

/** One manifest that refers to another, as discovery found it. */
export interface Referrer {
  /** The digest it refers to. */
  subject: string;
  /** The referrer manifest: media type, digest, size, artifactType, annotations. */
  descriptor: Descriptor;
  /** Where it was found: the referrers API, the fallback tag's index, or a cosign tag. */
  via: "api" | "fallback" | "cosign";
  /** The cosign tag that holds it (copied as a tag). */
  tag?: string;
  /** 1 for a referrer of the image itself, 2 for a referrer of a referrer, … */
  depth: number;
}

/** The tags cosign keeps beside an image, by suffix. */
export const COSIGN_KINDS = ["sig", "att", "sbom"] as const;
export type CosignKind = (typeof COSIGN_KINDS)[number];

/** The referrers tag schema's tag for `digest`: `<alg>-<encoded>`, alg ≤ 32 and encoded ≤ 64 characters, others replaced by `-`. */
export function fallbackTag(digest: string): string {
  const d = parseDigest(digest);
  const clean = (s: string, max: number) => s.replace(/[^a-zA-Z0-9_.-]/g, "-").slice(0, max);
  return `${clean(d.algorithm, 32)}-${clean(d.encoded, 64)}`;
}

/** cosign's tag for `digest` and a kind: `sha256-<hex>.sig`. */
export function cosignTag(digest: string, kind: CosignKind): string {
  return `${fallbackTag(digest)}.${kind}`;
}

const COSIGN_TAG = /^(sha256|sha512)-([a-f0-9]{64}|[a-f0-9]{128})\.(sig|att|sbom)$/;
const FALLBACK_TAG = /^(sha256|sha512)-([a-f0-9]{64}|[a-f0-9]{128})$/;

/** The subject and kind a cosign tag names; undefined for any other tag. */
export function parseCosignTag(tag: string): { subject: string; kind: CosignKind } | undefined {
  const m = COSIGN_TAG.exec(tag);
  return m ? { subject: `${m[1]}:${m[2]}`, kind: m[3] as CosignKind } : undefined;
}

/** The subject a referrers fallback tag names; undefined for any other tag. */
export function parseFallbackTag(tag: string): string | undefined {
  const m = FALLBACK_TAG.exec(tag);
  return m ? `${m[1]}:${m[2]}` : undefined;
}

/** The descriptor a referrers list holds for a manifest: its artifactType (else its config's media type) and annotations. */
export function referrerDescriptor(raw: RawManifest): Descriptor {
  const m = raw.manifest;
  const artifactType = "artifactType" in m && m.artifactType ? m.artifactType : m.kind === "manifest" ? m.config.mediaType : undefined;
  const annotations = "annotations" in m ? m.annotations : undefined;
  return {
    mediaType: raw.mediaType,
    digest: raw.digest,
    size: raw.bytes.byteLength,
    ...(artifactType ? { artifactType } : {}),
    ...(annotations ? { annotations } : {}),
  };
}

/** The manifest's `subject`, when it refers to another manifest. */
export function subjectOf(raw: RawManifest): Descriptor | undefined {
  const m = raw.manifest;
  return "subject" in m ? m.subject : undefined;
}

/** A referrers fallback index: the bytes to push and whether anything was added. */
export interface FallbackIndex {
  bytes: Buffer;
  digest: string;
  mediaType: string;
  /** Entries added to what was there. */
  added: number;
}

/**
 * The fallback index with `additions` merged into `existing` (the bytes the tag holds now, or
 * undefined): every entry already listed is kept as it was, an addition already listed (same
 * digest) is not added again.
 */
export function mergeFallbackIndex(existing: Buffer | undefined, additions: Descriptor[]): FallbackIndex {
  const base = existing ? (JSON.parse(existing.toString("utf8")) as Record<string, unknown>) : { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };
  const listed = Array.isArray(base.manifests) ? (base.manifests as Array<{ digest?: unknown }>) : [];
  const have = new Set(listed.map((d) => d.digest));
  const fresh = additions.filter((d) => !have.has(d.digest) && have.add(d.digest));
  if (existing && fresh.length === 0) return { bytes: existing, digest: digestOf(existing), mediaType: OCI_INDEX, added: 0 };
  const bytes = Buffer.from(JSON.stringify({ ...base, manifests: [...listed, ...fresh] }));
  return { bytes, digest: digestOf(bytes), mediaType: OCI_INDEX, added: fresh.length };
}

/** True when `d` is one of `artifactTypes` (any when the list is empty or absent). */
export function artifactTypeMatches(d: Pick<Descriptor, "artifactType">, artifactTypes: readonly string[] | undefined): boolean {
  return !artifactTypes || artifactTypes.length === 0 || (d.artifactType !== undefined && artifactTypes.includes(d.artifactType));
}
