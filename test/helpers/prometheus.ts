/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4), for tests that scrape
 * `/metrics`: every sample line must parse (name, labels, value), or it throws.
 */

export interface Exposition {
  /** Each metric family's `# TYPE` (counter, gauge, histogram…). */
  types: Map<string, string>;
  /** Every sample by its series key, `name{a="1",b="2"}` with labels sorted by name. */
  samples: Map<string, number>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;

/** The series key of `name` with `labels`, as {@link parseExposition} keys them. */
export function seriesKey(name: string, labels: Record<string, string> = {}): string {
  const inner = Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}="${v}"`)
    .join(",");
  return inner ? `${name}{${inner}}` : name;
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const at = LABEL.lastIndex;
    const m = LABEL.exec(text);
    if (!m || m.index !== at) throw new Error(`bad labels in ${JSON.stringify(line)}`);
    labels[m[1] as string] = (m[2] as string).replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
  }
  return labels;
}

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("#")) {
      const t = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (t) types.set(t[1] as string, t[2] as string);
      else if (!line.startsWith("# HELP ")) throw new Error(`bad comment line ${JSON.stringify(line)}`);
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`bad sample line ${JSON.stringify(line)}`);
    // Go's ParseFloat, which Prometheus uses, takes Inf and NaN in any case (prom-client writes "Nan").
    const raw = (m[3] as string).toLowerCase();
    const value = raw === "+inf" || raw === "inf" ? Number.POSITIVE_INFINITY : raw === "-inf" ? Number.NEGATIVE_INFINITY : Number(raw);
    if (Number.isNaN(value) && raw !== "nan") throw new Error(`bad value in ${JSON.stringify(line)}`);
    const key = seriesKey(m[1] as string, m[2] ? parseLabels(m[2], line) : {});
    if (samples.has(key)) throw new Error(`duplicate series ${key}`);
    samples.set(key, value);
  }
  return { types, samples };
}

/** The value of one series, 0 when absent (a labelled counter not yet incremented). */
export function sampleValue(e: Exposition, name: string, labels: Record<string, string> = {}): number {
  return e.samples.get(seriesKey(name, labels)) ?? 0;
}

/** The label sets of every series of `name`. */
export function seriesOf(e: Exposition, name: string): Array<Record<string, string>> {
  const out: Array<Record<string, string>> = [];
  for (const key of e.samples.keys()) {
    if (key === name) out.push({});
    else if (key.startsWith(`${name}{`)) out.push(parseLabels(key.slice(name.length + 1, -1), key));
  }
  return out;
}
