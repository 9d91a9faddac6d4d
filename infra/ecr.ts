/**
 * The ECR repositories a config names, as IAM resources: rule sources (and `api.allow` sources)
 * are read, rule destinations (and `api.allow` destinations) are pushed to. Each repository's
 * account, region and partition come from its host (`<account>.dkr.ecr.<region>.amazonaws.com`),
 * so a repository of another account gets an ARN of that account. A placeholder in a destination
 * template is bounded by the rule's source globs (`mirror/{repo}` from `host/team/**` is
 * `mirror/team/*`); a destination that nothing bounds (`{name}` at the registry root from
 * `ghcr.io/acme/*`) would be every repository of the account, and is refused at synth.
 */
import type { FerryConfig } from "../lib/config.ts";
import { FerryError } from "../lib/errors.ts";
import { ecrRegistryOf } from "../lib/registry/host-profile.ts";
import { splitGlob } from "../lib/rules/match.ts";
import { deleteDelayOf } from "../lib/rules/deletes.ts";

/** A private ECR repository, or repositories under a prefix, as IAM names them. */
export interface EcrRepository {
  host: string;
  account: string;
  region: string;
  partition: string;
  /** The repository name: literal, or an IAM pattern (`*`, `?`) after a literal prefix. */
  name: string;
}

/** What ferry does with ECR, derived from the config. */
export interface EcrAccess {
  /** Repositories images are read from: rule sources and `api.allow` sources. */
  sources: EcrRepository[];
  /** Repositories images are pushed to: rule destinations and `api.allow` destinations. */
  destinations: EcrRepository[];
  /** Per ECR source registry, the repository-name filters of its push events (none: every repository). */
  eventSources: EcrEventSource[];
  /** Destinations of rules with `deletes: propagate`: where a tag ferry wrote may be deleted (plan runs delete jobs). */
  deletable: EcrRepository[];
}

export interface EcrEventSource {
  host: string;
  account: string;
  region: string;
  /** EventBridge `repository-name` filters: a name, or `{wildcard}`; empty when every repository counts. */
  repositoryNames: Array<string | { wildcard: string }>;
}

/** The repository ARN (or ARN pattern) of `r`. */
export const repositoryArn = (r: EcrRepository): string => `arn:${r.partition}:ecr:${r.region}:${r.account}:repository/${r.name}`;

/** Whether `r` names repositories by a pattern (a cdk-nag IAM5 finding to acknowledge). */
export const isPattern = (r: EcrRepository): boolean => /[*?]/.test(r.name);

const partitionOf = (region: string): string => (region.startsWith("cn-") ? "aws-cn" : region.startsWith("us-gov-") ? "aws-us-gov" : "aws");

/** A repository glob as an IAM pattern: `**` and `*` are both `*` (IAM's `*` crosses `/`, so it is never narrower). */
const iamPattern = (glob: string): string => glob.replace(/\*+/g, "*");

/** The last path segment `{name}` takes for repositories matching `pattern` (`*` when a `**` can reach it). */
function nameOf(pattern: string): string {
  const last = pattern.split("/").at(-1) ?? pattern;
  return last.includes("**") || pattern.endsWith("**") ? "*" : last;
}

/** The repository path of a destination template: the host, a `@digest` and a `:tag` after the last `/` left off. */
function templatePath(template: string): string {
  const path = template.slice(template.indexOf("/") + 1).split("@")[0] as string;
  const slash = path.lastIndexOf("/");
  const colon = path.indexOf(":", slash + 1);
  return colon < 0 ? path : path.slice(0, colon);
}

function repository(host: string, name: string): EcrRepository | undefined {
  const ecr = ecrRegistryOf(host);
  return ecr ? { host, account: ecr.accountId, region: ecr.region, partition: partitionOf(ecr.region), name } : undefined;
}

/** Refuses a pattern with no literal prefix: it would grant push on every repository of the account. */
function bounded(r: EcrRepository, field: string, what: string): EcrRepository {
  if (/^[*?]/.test(r.name) || r.name === "") {
    throw new FerryError(
      "INVALID_CONFIG",
      `${field}: ${what} names repositories at the root of ${r.host} with nothing to bound their names (${repositoryArn(r)}): ferry would need push rights on every repository of account ${r.account} in ${r.region}. Put the destination under a prefix (e.g. "${r.host}/mirror/{repo}"), or name the source repositories literally (e.g. "ghcr.io/acme/app" instead of "ghcr.io/acme/*").`,
      { field },
    );
  }
  return r;
}

/** The ECR repositories `config` reads and pushes; INVALID_CONFIG (with the field) for a destination nothing bounds. */
export function ecrAccessOf(config: FerryConfig): EcrAccess {
  const sources: EcrRepository[] = [];
  const destinations: EcrRepository[] = [];
  const deletable: EcrRepository[] = [];
  const events = new Map<string, EcrEventSource>();
  const all = new Set<string>();
  config.rules.forEach((rule, i) => {
    const globs = Array.isArray(rule.source) ? rule.source : [rule.source];
    for (const glob of globs) {
      const { host, pattern } = splitGlob(glob);
      const src = repository(host, iamPattern(pattern));
      if (!src) continue;
      sources.push(src);
      const ev = events.get(host) ?? { host, account: src.account, region: src.region, repositoryNames: [] };
      events.set(host, ev);
      // EventBridge wildcards know only `*` (crossing `/`); the webhook path's rule matching runs after.
      const filter = /[*?]/.test(pattern) ? { wildcard: pattern.replace(/[*?]+/g, "*") } : pattern;
      if (typeof filter === "object" && filter.wildcard === "*") all.add(host);
      else if (!ev.repositoryNames.some((n) => JSON.stringify(n) === JSON.stringify(filter))) ev.repositoryNames.push(filter);
    }
    rule.destinations.forEach((template, j) => {
      const host = template.slice(0, template.indexOf("/"));
      if (!ecrRegistryOf(host)) return;
      const path = templatePath(template);
      for (const glob of globs) {
        const { pattern } = splitGlob(glob);
        const name = path.replaceAll("{repo}", pattern).replaceAll("{name}", nameOf(pattern)).replaceAll("{tag}", "*");
        const dst = repository(host, iamPattern(name)) as EcrRepository;
        destinations.push(bounded(dst, `rules[${i}].destinations[${j}]`, `rule ${rule.name}'s destination "${template}" from source "${glob}"`));
        if (deleteDelayOf(rule.deletes) !== undefined) deletable.push(dst);
      }
    });
  });
  // One-off replications the API may run (api.allow, when the config has it): globs of host/repository.
  const allow = (config.api as { allow?: Array<{ source: string; destinations: string[] }> }).allow ?? [];
  allow.forEach((entry, i) => {
    const { host, pattern } = splitGlob(entry.source);
    const src = repository(host, iamPattern(pattern));
    if (src) sources.push(src);
    entry.destinations.forEach((glob, j) => {
      const d = splitGlob(glob);
      const dst = repository(d.host, iamPattern(d.pattern));
      if (dst) destinations.push(bounded(dst, `api.allow[${i}].destinations[${j}]`, `the destination glob "${glob}"`));
    });
  });
  for (const host of all) {
    const ev = events.get(host);
    if (ev) ev.repositoryNames = [];
  }
  return { sources: unique(sources), destinations: unique(destinations), eventSources: [...events.values()], deletable: unique(deletable) };
}

function unique(repos: EcrRepository[]): EcrRepository[] {
  const seen = new Map<string, EcrRepository>();
  for (const r of repos) seen.set(repositoryArn(r), r);
  return [...seen.values()];
}
