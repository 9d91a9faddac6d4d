/**
 * Which one-off replications the API may run (`POST /replications`): one a rule covers — its
 * source matches the rule's globs and every destination is one the rule renders for that source
 * — or one an `api.allow` entry covers (a source glob, destination globs). Anything else is
 * refused, so the API cannot be made to copy any image anywhere with ferry's credentials.
 */
import type { FerryConfig } from "../config.ts";
import { parseReference } from "../oci/reference.ts";
import { globToRegExp, renderDestination } from "./match.ts";

export type Verdict = { allowed: true; by: string } | { allowed: false; reason: string };

/** Whether `source` → `destinations` is within a rule (only `rule`, when named) or `api.allow`. */
export function replicationAllowed(config: FerryConfig, req: { source: string; destinations: string[]; rule?: string | undefined }): Verdict {
  const src = parseReference(req.source, { defaultTag: false });
  const srcRepo = src.repo.toString();
  const dests = req.destinations.map((d) => parseReference(d, { defaultTag: false }).repo.toString());
  const rules = req.rule ? config.rules.filter((r) => r.name === req.rule) : config.rules;
  if (req.rule && rules.length === 0) return { allowed: false, reason: `no rule named ${req.rule}` };
  for (const rule of rules) {
    const globs = Array.isArray(rule.source) ? rule.source : [rule.source];
    if (!globs.some((g) => globToRegExp(g).test(srcRepo))) continue;
    const input = { registry: src.registry, repository: src.repository, ...(src.tagName ? { tag: src.tagName } : {}) };
    const rendered = new Set(rule.destinations.map((t) => parseReference(renderDestination(t, input), { defaultTag: false }).repo.toString()));
    if (dests.every((d) => rendered.has(d))) return { allowed: true, by: `rule ${rule.name}` };
  }
  if (!req.rule) {
    for (const [i, entry] of (config.api.allow ?? []).entries()) {
      if (!globToRegExp(entry.source).test(srcRepo)) continue;
      const targets = entry.destinations.map(globToRegExp);
      if (dests.every((d) => targets.some((t) => t.test(d)))) return { allowed: true, by: `api.allow[${i}]` };
    }
  }
  return {
    allowed: false,
    reason: `${srcRepo} → ${dests.join(", ")} is not within ${req.rule ? `rule ${req.rule}` : "any rule or api.allow entry"}: the API replicates only what the configuration allows`,
  };
}
