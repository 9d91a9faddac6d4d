/**
 * Tag filters of a rule: include/exclude regular expressions, a semver range, and for backfill
 * "keep the latest N". Tags may carry a leading `v` (v1.2.3) for semver purposes.
 */
import semver from "semver";
import type { RuleConfig } from "../config.ts";

/** The semver reading of a tag, if it has one (`v1.2.3` and `1.2.3` alike). */
export function tagVersion(tag: string): string | undefined {
  const bare = tag.replace(/^v(?=\d)/, "");
  const exact = semver.valid(bare, { loose: true });
  if (exact) return exact;
  // "1.2" and "1" read as 1.2.0 and 1.0.0; anything else is not a version
  return /^\d+(\.\d+)?$/.test(bare) ? (semver.coerce(bare)?.version ?? undefined) : undefined;
}

/** True when the rule's include/exclude/semver filters let `tag` through. */
export function tagAllowed(rule: RuleConfig, tag: string): boolean {
  const f = rule.tags;
  if (!f) return true;
  if (f.include?.length && !f.include.some((r) => new RegExp(r).test(tag))) return false;
  if (f.exclude?.some((r) => new RegExp(r).test(tag))) return false;
  if (f.semver) {
    const v = tagVersion(tag);
    if (!v || !semver.satisfies(v, f.semver, { loose: true, includePrerelease: false })) return false;
  }
  return true;
}

/**
 * Applies the filters, then `keepLatest`: the N highest by semver (tags without a version rank
 * below every versioned one, in listing order).
 */
export function selectTags(rule: RuleConfig, tags: string[]): { kept: string[]; filtered: number } {
  const allowed = tags.filter((t) => tagAllowed(rule, t));
  let kept = allowed;
  const n = rule.tags?.keepLatest;
  if (n !== undefined && allowed.length > n) {
    const ranked = allowed
      .map((t, i) => ({ t, i, v: tagVersion(t) }))
      .sort((a, b) => (a.v && b.v ? semver.rcompare(a.v, b.v) : a.v ? -1 : b.v ? 1 : a.i - b.i));
    const top = new Set(ranked.slice(0, n).map((x) => x.t));
    kept = allowed.filter((t) => top.has(t));
  }
  return { kept, filtered: tags.length - kept.length };
}
