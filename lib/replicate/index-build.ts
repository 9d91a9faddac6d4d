/**
 * Rebuilding indexes, the only time ferry writes manifest bytes of its own: a platform filter
 * (keeping the attestation manifests that refer to kept entries) and a merge with the
 * destination's existing platforms. Everything else in the source index is kept as it was.
 */
import { FerryError } from "../errors.ts";
import { digestOf } from "../oci/digest.ts";
import type { Descriptor, Platform, RawManifest } from "../oci/manifest.ts";
import { DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX } from "../oci/media-types.ts";
import { formatPlatform, platformMatches } from "../oci/platform.ts";

const REF_TYPE = "vnd.docker.reference.type";
const REF_DIGEST = "vnd.docker.reference.digest";

/** A rebuilt (or unchanged) index. */
export interface IndexPlan {
  bytes: Buffer;
  digest: string;
  mediaType: string;
  /** Entries whose manifests must exist at the destination (copied from the source). */
  fromSource: Descriptor[];
  /** Entries kept from the destination's index (already there). */
  fromDestination: Descriptor[];
  /** False when the source bytes are pushed verbatim. */
  rebuilt: boolean;
}

/** True for buildx attestation entries (`unknown/unknown`, `vnd.docker.reference.type`). */
export function isAttestation(d: Descriptor): boolean {
  return d.annotations?.[REF_TYPE] === "attestation-manifest";
}

function entries(raw: RawManifest): Descriptor[] {
  if (raw.manifest.kind !== "index") throw new FerryError("INTERNAL", `${raw.digest} is not an index`);
  return raw.manifest.manifests;
}

function rawEntries(raw: RawManifest): { obj: Record<string, unknown>; list: unknown[] } {
  const obj = JSON.parse(raw.bytes.toString("utf8")) as Record<string, unknown>;
  return { obj, list: obj.manifests as unknown[] };
}

function rebuild(obj: Record<string, unknown>, list: unknown[]): { bytes: Buffer; digest: string } {
  const bytes = Buffer.from(JSON.stringify({ ...obj, manifests: list }));
  return { bytes, digest: digestOf(bytes) };
}

/** The source index, unchanged. */
export function verbatim(raw: RawManifest): IndexPlan {
  return { bytes: raw.bytes, digest: raw.digest, mediaType: raw.mediaType, fromSource: entries(raw), fromDestination: [], rebuilt: false };
}

/**
 * Keeps only entries for the wanted platforms, plus the attestations that refer to them, and
 * entries without a platform that are not attestations (nested indexes, artifacts). Unchanged
 * when every platform entry matches; PLATFORM_MISMATCH when none does.
 */
export function filterIndex(raw: RawManifest, wanted: Platform[]): IndexPlan {
  const all = entries(raw);
  const { obj, list } = rawEntries(raw);
  const platformEntries = all.filter((d) => d.platform && !isAttestation(d));
  const keep = new Set<number>();
  const keptDigests = new Set<string>();
  all.forEach((d, i) => {
    if (isAttestation(d)) return;
    if (!d.platform || wanted.some((w) => platformMatches(w, d.platform))) {
      keep.add(i);
      keptDigests.add(d.digest);
    }
  });
  if (platformEntries.length > 0 && !platformEntries.some((d) => keptDigests.has(d.digest))) {
    throw new FerryError(
      "PLATFORM_MISMATCH",
      `none of the wanted platforms (${wanted.map(formatPlatform).join(", ")}) is in the index; it has ${platformEntries.map((d) => formatPlatform(d.platform)).join(", ")}`,
    );
  }
  all.forEach((d, i) => {
    if (isAttestation(d) && keptDigests.has(d.annotations?.[REF_DIGEST] ?? "")) keep.add(i);
  });
  if (keep.size === all.length) return verbatim(raw);
  const kept = list.filter((_, i) => keep.has(i));
  const { bytes, digest } = rebuild(obj, kept);
  return { bytes, digest, mediaType: raw.mediaType, fromSource: all.filter((_, i) => keep.has(i)), fromDestination: [], rebuilt: true };
}

/**
 * Merges a (possibly filtered) source plan with the destination's index: entries for platforms
 * the source lacks are appended, with their attestations. Unchanged when the destination has
 * nothing the source lacks.
 */
export function mergeWithDestination(plan: IndexPlan, destination: RawManifest): IndexPlan {
  const srcKeys = new Set(plan.fromSource.filter((d) => d.platform && !isAttestation(d)).map((d) => formatPlatform(d.platform)));
  const dstAll = entries(destination);
  const dstRaw = rawEntries(destination).list;
  const extra = new Set<number>();
  const extraDigests = new Set<string>();
  dstAll.forEach((d, i) => {
    if (d.platform && !isAttestation(d) && !srcKeys.has(formatPlatform(d.platform))) {
      extra.add(i);
      extraDigests.add(d.digest);
    }
  });
  dstAll.forEach((d, i) => {
    if (isAttestation(d) && extraDigests.has(d.annotations?.[REF_DIGEST] ?? "")) extra.add(i);
  });
  if (extra.size === 0) return plan;
  const base = JSON.parse(plan.bytes.toString("utf8")) as Record<string, unknown>;
  const list = [...(base.manifests as unknown[]), ...dstRaw.filter((_, i) => extra.has(i))];
  const { bytes, digest } = rebuild(base, list);
  return {
    bytes,
    digest,
    mediaType: plan.mediaType,
    fromSource: plan.fromSource,
    fromDestination: dstAll.filter((_, i) => extra.has(i)),
    rebuilt: true,
  };
}

/**
 * A single-platform image as a one-entry index (Docker manifest list for a Docker manifest, else
 * an OCI index), the entry carrying its platform: the image is pushed by digest, the index tagged.
 */
export function oneEntryIndex(
  image: { bytes: Buffer; digest: string; mediaType: string },
  platform: Platform,
): { bytes: Buffer; digest: string; mediaType: string; entry: Descriptor } {
  const mediaType = image.mediaType === DOCKER_MANIFEST ? DOCKER_LIST : OCI_INDEX;
  const entry: Descriptor = { mediaType: image.mediaType, digest: image.digest, size: image.bytes.byteLength, platform };
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests: [entry] }));
  return { bytes, digest: digestOf(bytes), mediaType, entry };
}

/** How progress names an index entry: its platform, or an attestation of its parent's. */
export function childLabel(d: Descriptor, parent: string): string {
  return d.platform ? formatPlatform(d.platform) : isAttestation(d) ? `attestation ${parent}`.trim() : parent;
}
