/**
 * Schema 1 → Docker schema 2, the pure part (containers/image `convertToManifestSchema2` and
 * `ToSchema2Config`; moby `HistoryFromConfig`): which layers in which order, and the config
 * synthesised from the `v1Compatibility` entries. Reading the layers (for `rootfs.diff_ids` and
 * sizes) is the caller's (replicate/schema1.ts).
 *
 * Schema 1 lists layers newest first, schema 2 oldest first. A throwaway entry (`throwaway: true`,
 * or the empty tar's blob that old Docker wrote for every metadata-only step) is no layer: it
 * becomes a history entry with `empty_layer: true`, so the history has one entry per v1 entry and
 * exactly as many non-empty entries as there are layers. The same blob at several positions stays
 * at each of them; the same v1 ID repeated back to back is one entry listed twice, kept once (as
 * containers/image and moby do).
 */
import { FerryError } from "../errors.ts";
import type { Descriptor } from "./manifest.ts";
import { DOCKER_MANIFEST } from "./media-types.ts";
import type { Schema1Manifest } from "./schema1.ts";

/** gzip of an empty tar archive: the blob schema 1 gives a throwaway (metadata-only) entry. */
export const EMPTY_LAYER_GZIP = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4";

/** Fields of a v1 image JSON that schema 2 configs do not have (containers/image `ToSchema2Config`). */
const V1_ONLY_FIELDS = ["id", "parent", "parent_id", "layer_id", "throwaway", "Size"];

/** One `history` entry of a schema 2 config. */
export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** What a conversion needs from the layers, and what it builds without them. */
export interface Schema1Plan {
  /** Layer blob digests, oldest first, without throwaway entries; a blob may appear more than once. */
  layers: string[];
  /** One entry per v1 entry, oldest first; `empty_layer` for throwaway ones. */
  history: HistoryEntry[];
  /** The newest entry's v1 image JSON without its v1-only fields: the config, less rootfs and history. */
  base: Record<string, unknown>;
}

/** Plans the conversion of a schema 1 manifest: layer order, history and the config's base. */
export function planSchema1(m: Schema1Manifest): Schema1Plan {
  if (m.fsLayers.length === 0) throw invalid("it has no layers");
  const entries = collapseRepeats(m.history.map((h, i) => ({ blob: m.fsLayers[i] as string, v1: v1Image(h, i) })));
  const layers: string[] = [];
  const history: HistoryEntry[] = [];
  for (const e of [...entries].reverse()) {
    const empty = e.v1.throwaway === true || e.blob === EMPTY_LAYER_GZIP;
    if (!empty) layers.push(e.blob);
    history.push(historyEntry(e.v1, empty));
  }
  const newest = (entries[0] as { v1: Record<string, unknown> }).v1;
  const base = Object.fromEntries(Object.entries(newest).filter(([k]) => !V1_ONLY_FIELDS.includes(k)));
  if (typeof base.architecture !== "string" && m.architecture) base.architecture = m.architecture;
  if (typeof base.os !== "string") base.os = "linux";
  return { layers, history, base };
}

/** The config's bytes: the plan's base with `rootfs.diff_ids` (parallel to `plan.layers`) and `history`, keys sorted as Go writes a map. */
export function schema1Config(plan: Schema1Plan, diffIds: string[]): Buffer {
  if (diffIds.length !== plan.layers.length) throw new FerryError("INTERNAL", `${diffIds.length} diff_ids for ${plan.layers.length} layers`);
  const config: Record<string, unknown> = { ...plan.base, rootfs: { type: "layers", diff_ids: diffIds }, history: plan.history };
  const sorted = Object.fromEntries(
    Object.keys(config)
      .sort()
      .map((k) => [k, config[k]]),
  );
  return Buffer.from(JSON.stringify(sorted));
}

/** The schema 2 manifest's bytes, pretty-printed as Docker writes it. */
export function schema2Manifest(config: Descriptor, layers: Descriptor[]): Buffer {
  const d = (x: Descriptor) => ({ mediaType: x.mediaType, size: x.size, digest: x.digest });
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_MANIFEST, config: d(config), layers: layers.map(d) }, null, 3));
}

/** Entries whose v1 ID repeats the next one's are the same entry listed twice: keep one (containers/image `fixManifestLayers`). */
function collapseRepeats<T extends { v1: Record<string, unknown> }>(entries: T[]): T[] {
  const kept: T[] = [];
  const seen = new Set<string>();
  for (const e of entries) {
    const id = typeof e.v1.id === "string" && e.v1.id ? e.v1.id : undefined;
    const previous = kept.at(-1)?.v1.id;
    if (id !== undefined && id === previous) continue;
    if (id !== undefined && seen.has(id)) throw invalid(`v1 ID ${id} appears more than once, not back to back`);
    if (id !== undefined) seen.add(id);
    kept.push(e);
  }
  return kept;
}

function historyEntry(v1: Record<string, unknown>, empty: boolean): HistoryEntry {
  const text = (v: unknown) => (typeof v === "string" && v ? v : undefined);
  const cc = v1.container_config;
  const cmd = typeof cc === "object" && cc !== null ? (cc as { Cmd?: unknown }).Cmd : undefined;
  const createdBy = Array.isArray(cmd) ? text(cmd.filter((c) => typeof c === "string").join(" ")) : undefined;
  const created = text(v1.created);
  const author = text(v1.author);
  const comment = text(v1.comment);
  return {
    ...(created ? { created } : {}),
    ...(createdBy ? { created_by: createdBy } : {}),
    ...(author ? { author } : {}),
    ...(comment ? { comment } : {}),
    ...(empty ? { empty_layer: true } : {}),
  };
}

function v1Image(text: string, i: number): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw invalid(`history[${i}].v1Compatibility is not JSON`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw invalid(`history[${i}].v1Compatibility is not a JSON object`);
  return v as Record<string, unknown>;
}

function invalid(why: string): FerryError {
  return new FerryError("MANIFEST_INVALID", `schema 1 manifest cannot be converted: ${why}`);
}
