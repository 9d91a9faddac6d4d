/** Small formatting helpers for the CLI. */

/** 1536 → "1.5 KB"; decimal units, as registries and skopeo print them. */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

/** `sha256:0123456789ab` (12 hex characters). */
export function shortDigest(d: string): string {
  const i = d.indexOf(":");
  return i < 0 ? d : d.slice(0, i + 13);
}

/** 1234 → "1.2s", 65000 → "1m05s". */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, "0")}s`;
}
