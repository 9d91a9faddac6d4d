/**
 * Mirror rules: which rule a pushed image matches, and where it goes. Source globs include the
 * host (`registry.example.com/team/**`): `*` matches within one path segment, `**` across them.
 */
import type { RuleConfig } from "../config.ts";

/** An image event to match: the source registry, repository and tag. */
export interface MatchInput {
  registry: string;
  repository: string;
  tag?: string;
}

/** A rule that matched, with its destination repositories rendered. */
export interface RuleMatch {
  rule: RuleConfig;
  /** `host[:port]/repository` per destination, placeholders filled. */
  destinations: string[];
}

const globCache = new Map<string, RegExp>();

/** Compiles a glob: `**` any characters, `*` any except `/`, `?` one character except `/`. */
export function globToRegExp(glob: string): RegExp {
  let re = globCache.get(glob);
  if (re) return re;
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i] as string;
    if (ch === "*" && glob[i + 1] === "*") {
      // "/**" at the end also matches the bare prefix (host/** matches host/app)
      out += ".*";
      i++;
    } else if (ch === "*") out += "[^/]*";
    else if (ch === "?") out += "[^/]";
    else out += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  re = new RegExp(`^${out}$`);
  globCache.set(glob, re);
  return re;
}

/** Fills `{repo}`, `{name}` and `{tag}` in a destination template. */
export function renderDestination(template: string, input: MatchInput): string {
  const name = input.repository.split("/").at(-1) ?? input.repository;
  return template
    .replaceAll("{repo}", input.repository)
    .replaceAll("{name}", name)
    .replaceAll("{tag}", input.tag ?? "");
}

/** Every rule whose source globs match `registry/repository`. */
export function matchRules(rules: readonly RuleConfig[], input: MatchInput): RuleMatch[] {
  const subject = `${input.registry}/${input.repository}`;
  const out: RuleMatch[] = [];
  for (const rule of rules) {
    const globs = Array.isArray(rule.source) ? rule.source : [rule.source];
    if (!globs.some((g) => globToRegExp(g).test(subject))) continue;
    out.push({ rule, destinations: rule.destinations.map((t) => renderDestination(t, input)) });
  }
  return out;
}

/** The registry hosts that rules name as sources: the only ones a webhook may cause pulls from. */
export function ruleSourceHosts(rules: readonly RuleConfig[]): string[] {
  return [...new Set(rules.flatMap((r) => (Array.isArray(r.source) ? r.source : [r.source]).map((g) => splitGlob(g).host)))];
}

/** A source pattern's registry host and repository pattern (`host/team/*` → `host`, `team/*`). */
export function splitGlob(glob: string): { host: string; pattern: string } {
  const i = glob.indexOf("/");
  return i < 0 ? { host: glob, pattern: "" } : { host: glob.slice(0, i), pattern: glob.slice(i + 1) };
}
