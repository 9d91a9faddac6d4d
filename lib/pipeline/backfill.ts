/**
 * Backfill: list a rule's source tags (paginated), filter them, compare with each destination by
 * HEAD only, and enqueue replications for what is missing or different. A repository with tens
 * of thousands of tags does not have to fit one invocation: past the deadline the run stops and
 * leaves a cursor; the next run resumes there.
 */
import type { RuleConfig } from "../config.ts";
import { FerryError } from "../errors.ts";
import type { ReplicationRequest } from "../queue/messages.ts";
import type { CallOptions } from "../registry/client.ts";
import type { RegistryPool } from "../registry/pool.ts";
import { Limiter } from "../replicate/limiter.ts";
import { parseReference, Repository } from "../oci/reference.ts";
import { planRoot } from "../replicate/root-plan.ts";
import { parsePlatform } from "../oci/platform.ts";
import { globToRegExp, renderDestination, splitGlob } from "../rules/match.ts";
import { selectTags } from "../rules/tags.ts";
import type { Cursors } from "../state/store.ts";
import type { Log } from "./deps.ts";
import { deliveryJobId } from "./ingress.ts";
import { storeFor } from "./stores.ts";

export interface BackfillCounts {
  repositories: number;
  listed: number;
  upToDate: number;
  enqueued: number;
  /** Replications a previous run already queued (same source digest): not queued again. */
  alreadyQueued: number;
  skippedByFilter: number;
}

/** Queues one replication; true when it is new (false: a duplicate of one already queued). */
export type Enqueue = (request: ReplicationRequest, jobId: string) => Promise<boolean>;

export interface BackfillOptions extends CallOptions {
  dryRun?: boolean;
  /** HEAD requests at once. Default 8. */
  concurrency?: number;
  cursors?: Cursors;
}

interface Cursor {
  repo: string;
  next: number;
}

const CHUNK = 50;
/** Stop this long before the deadline so the cursor is saved in time. */
const MARGIN_MS = 5_000;

/** The repositories a rule's sources cover: literal paths, the configured list, or the catalog. */
async function repositoriesOf(pool: RegistryPool, rule: RuleConfig, opts: CallOptions): Promise<Array<{ host: string; repository: string }>> {
  const out: Array<{ host: string; repository: string }> = [];
  for (const glob of Array.isArray(rule.source) ? rule.source : [rule.source]) {
    const { host, pattern: path } = splitGlob(glob);
    if (!/[*?]/.test(path)) {
      out.push({ host, repository: path });
      continue;
    }
    const re = globToRegExp(glob);
    const names = rule.backfill?.repositories ?? [];
    if (names.length === 0) for await (const page of pool.client(host, "source").catalogList(opts)) names.push(...page);
    for (const n of names) if (re.test(`${host}/${n}`)) out.push({ host, repository: n });
  }
  return out;
}

export async function backfillRule(
  pool: RegistryPool,
  rule: RuleConfig,
  enqueue: Enqueue,
  log: Log,
  opts: BackfillOptions = {},
): Promise<{ counts: BackfillCounts; complete: boolean }> {
  const counts: BackfillCounts = { repositories: 0, listed: 0, upToDate: 0, enqueued: 0, alreadyQueued: 0, skippedByFilter: 0 };
  const call: CallOptions = { ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.deadline ? { deadline: opts.deadline } : {}) };
  const cursorKey = `backfill/${rule.name}`;
  const saved = await opts.cursors?.getCursor(cursorKey);
  let cursor: Cursor | undefined = saved ? (JSON.parse(saved) as Cursor) : undefined;
  const limiter = new Limiter(opts.concurrency ?? 8);
  const repos = await repositoriesOf(pool, rule, call);
  for (const { host, repository } of repos) {
    const repoKey = `${host}/${repository}`;
    if (cursor && cursor.repo !== repoKey) continue; // resuming: skip repositories already done
    const start = cursor?.next ?? 0;
    cursor = undefined;
    counts.repositories++;
    const tags = await pool.client(host, "source").tagListAll(repository, call);
    counts.listed += tags.length;
    const { kept, filtered } = selectTags(rule, tags);
    counts.skippedByFilter += filtered;
    for (let i = start; i < kept.length; i += CHUNK) {
      if (opts.deadline && Date.now() > opts.deadline - MARGIN_MS) {
        await opts.cursors?.putCursor(cursorKey, JSON.stringify({ repo: repoKey, next: i } satisfies Cursor));
        log.info("backfill paused; a cursor was saved", { rule: rule.name, repo: repoKey, next: i, of: kept.length });
        return { counts, complete: false };
      }
      await Promise.all(
        kept.slice(i, i + CHUNK).map((tag) =>
          limiter.run(async () => {
            const stale = await staleDestinations(pool, rule, new Repository(host, repository), tag, call);
            if (!stale) return; // deleted since listing
            if (stale.destinations.length === 0) {
              counts.upToDate++;
              return;
            }
            const request: ReplicationRequest = {
              source: new Repository(host, repository).at(stale.digest, tag).toString(),
              destinations: stale.destinations,
              ...(rule.platforms ? { platforms: rule.platforms } : {}),
              ...(rule.merge ? { merge: true } : {}),
              trigger: "backfill",
              eventTime: new Date().toISOString(),
              rule: rule.name,
            };
            if (opts.dryRun) {
              counts.enqueued++;
              return;
            }
            const created = await enqueue(request, deliveryJobId("backfill", rule.name, repoKey, tag, stale.digest, stale.destinations.join(",")));
            if (created) counts.enqueued++;
            else counts.alreadyQueued++;
          }),
        ),
      );
    }
  }
  await opts.cursors?.putCursor(cursorKey, undefined);
  log.info("backfill done", { rule: rule.name, ...counts });
  return { counts, complete: true };
}

/**
 * The destinations of `repo:tag` that are not up to date, as the root planner decides (HEADs
 * alone when the rule neither filters nor merges); undefined when the tag is gone.
 */
async function staleDestinations(
  pool: RegistryPool,
  rule: RuleConfig,
  repo: Repository,
  tag: string,
  call: CallOptions,
): Promise<{ digest: string; destinations: string[] } | undefined> {
  const targets = rule.destinations.map((template) => renderDestination(template, { registry: repo.registry, repository: repo.path, tag }));
  const refs = targets.map((d) => parseReference(d, { defaultTag: false }));
  try {
    const plan = await planRoot({
      source: storeFor(pool, repo, "source"),
      ref: tag,
      destinations: refs.map((r) => ({ sink: storeFor(pool, r.repo, "destination"), tag: r.tagName ?? tag })),
      ...(rule.platforms ? { platforms: rule.platforms.map(parsePlatform) } : {}),
      ...(rule.merge ? { merge: true } : {}),
      call,
      decideByHead: "decided",
    });
    return { digest: plan.sourceDigest, destinations: targets.filter((_, i) => !plan.destinations[i]?.upToDate) };
  } catch (e) {
    if (e instanceof FerryError && e.code === "NOT_FOUND" && e.side === "source") return undefined;
    throw e;
  }
}
