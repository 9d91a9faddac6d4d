/**
 * The image config of a pushed tree: platform, `created`, the runtime settings (from the base,
 * overridden by the user's), `rootfs.diff_ids`, and a `history` with exactly one non-empty entry
 * per layer (Quay refuses an image whose counts differ). Pure: same inputs, same bytes.
 */
import { arch } from "node:os";
import { FerryError } from "../errors.ts";
import type { Platform } from "../oci/manifest.ts";

/** Runtime settings the user gives; each replaces the base's, `env` and `labels` per key. */
export interface ImageSettings {
  env?: string[];
  cmd?: string[];
  entrypoint?: string[];
  workdir?: string;
  labels?: Record<string, string>;
}

/** A history entry (image-spec config.md). */
export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** The base's config, parsed but otherwise untouched (unknown fields survive). */
export type ConfigJson = Record<string, unknown> & {
  config?: Record<string, unknown> | null;
  rootfs?: { type?: string; diff_ids?: string[] };
  history?: HistoryEntry[];
};

/** What `buildConfig` needs. */
export interface ConfigInput {
  platform: Platform;
  /** Seconds since the epoch: `created` of the image and of the new history entry. */
  created: number;
  settings: ImageSettings;
  diffId: string;
  base?: { config: ConfigJson; layers: number } | undefined;
  /** `created_by` of the new layer's history entry. */
  createdBy?: string;
}

/** The config object and its warnings (a base history that had to be rebuilt). */
export function buildConfig(input: ConfigInput): { config: ConfigJson; warnings: string[] } {
  const warnings: string[] = [];
  const created = isoSeconds(input.created);
  const base = input.base?.config ?? {};
  const baseDiffIds = input.base ? (base.rootfs?.diff_ids ?? []) : [];
  if (input.base && baseDiffIds.length !== input.base.layers) {
    throw new FerryError("MANIFEST_INVALID", `the base's config lists ${baseDiffIds.length} diff_ids for ${input.base.layers} layers`, { side: "source" });
  }
  const history = baseHistory(base.history, baseDiffIds.length, warnings);
  history.push({ created, created_by: input.createdBy ?? "ferry push" });
  const { architecture, os, variant } = input.platform;
  const config: ConfigJson = {
    ...base,
    architecture,
    os,
    ...(variant ? { variant } : {}),
    created,
    config: runtimeConfig(base.config ?? {}, input.settings),
    rootfs: { type: "layers", diff_ids: [...baseDiffIds, input.diffId] },
    history,
  };
  if (!variant) delete config.variant;
  return { config, warnings };
}

/** The base's history if it has one non-empty entry per layer; else one synthesised entry per layer. */
function baseHistory(history: HistoryEntry[] | undefined, layers: number, warnings: string[]): HistoryEntry[] {
  const entries = history ?? [];
  if (entries.filter((h) => !h.empty_layer).length === layers) return [...entries];
  if (layers > 0 || entries.length > 0) {
    warnings.push(
      `the base's history has ${entries.filter((h) => !h.empty_layer).length} non-empty entries for ${layers} layers; it is replaced by one entry per layer`,
    );
  }
  return Array.from({ length: layers }, (_, i) => ({ created_by: `base layer ${i + 1} (no history recorded)` }));
}

function runtimeConfig(base: Record<string, unknown>, s: ImageSettings): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  if (s.env?.length) out.Env = mergeEnv(Array.isArray(base.Env) ? (base.Env as string[]) : [], s.env);
  if (s.entrypoint) {
    out.Entrypoint = s.entrypoint;
    // As `docker build` does: a new entrypoint drops the base's Cmd, which was meant for the old one.
    if (!s.cmd) delete out.Cmd;
  }
  if (s.cmd) out.Cmd = s.cmd;
  if (s.workdir !== undefined) out.WorkingDir = s.workdir;
  if (s.labels && Object.keys(s.labels).length) out.Labels = { ...((base.Labels as Record<string, string> | null) ?? {}), ...s.labels };
  return out;
}

/** `K=V` strings: a key given again replaces the base's value in place; new keys go last. */
export function mergeEnv(base: string[], add: string[]): string[] {
  const key = (kv: string) => kv.slice(0, kv.indexOf("=") < 0 ? kv.length : kv.indexOf("="));
  const out = [...base];
  for (const kv of add) {
    const i = out.findIndex((b) => key(b) === key(kv));
    if (i >= 0) out[i] = kv;
    else out.push(kv);
  }
  return out;
}

/** `1970-01-01T00:00:00Z`: RFC 3339 without fractions. */
export function isoSeconds(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

const ARCH: Record<string, Platform> = {
  x64: { os: "linux", architecture: "amd64" },
  arm64: { os: "linux", architecture: "arm64" },
  ia32: { os: "linux", architecture: "386" },
  s390x: { os: "linux", architecture: "s390x" },
  ppc64: { os: "linux", architecture: "ppc64le" },
  riscv64: { os: "linux", architecture: "riscv64" },
  loong64: { os: "linux", architecture: "loong64" },
};

/**
 * This machine's platform as an image platform: always `linux` (a root filesystem is a Linux
 * image, also when pushed from a Mac), the CPU in Go's names. Throws USAGE when unknown.
 */
export function hostPlatform(cpu: string = arch(), armVersion?: string): Platform {
  if (cpu === "arm") return { os: "linux", architecture: "arm", variant: `v${armVersion ?? "7"}` };
  const p = ARCH[cpu];
  if (!p) throw new FerryError("USAGE", `cannot name this machine's CPU (${cpu}) as an image platform; pass --platform`);
  return { ...p };
}
