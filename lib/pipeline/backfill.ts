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
import { parseCosignTag, parseFallbackTag } from "../oci/referrers.ts";
import { type ReferrerContext, referrersFor } from "../replicate/referrers.ts";
import { referrersPresent } from "../replicate/referrers-copy.ts";
import { planRoot, type RootPlan, resolveRoot } from "../replicate/root-plan.ts";
import { parsePlatform } from "../oci/platform.ts";
import { globToRegExp, renderDestination, splitGlob } from "../rules/match.ts";
import { selectTags } from "../rules/tags.ts";
import type { Cursors, WrittenTags } from "../state/store.ts";
import type { Log } from "./deps.ts";
import { missingTagDeletes } from "./deletes-backfill.ts";
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
  /** Delete jobs queued for tags ferry wrote whose source tags are gone (rules with `deletes: propagate`); absent when none. */
  deletes?: number;
}

/** Queues one replication; true when it is new (false: a duplicate of one already queued). */
export type Enqueue = (request: ReplicationRequest, jobId: string) => Promise<boolean>;

export interface BackfillOptions extends CallOptions {
  dryRun?: boolean;
  /** HEAD requests at once. Default 8. */
  concurrency?: number;
  cursors?: Cursors;
  /** What ferry wrote downstream: with it, a rule with `deletes: propagate` also queues deletions for source tags that are gone. */
  written?: WrittenTags;
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
    const repo = new Repository(host, repository);
    if (cursor && cursor.repo !== repo.toString()) continue; // resuming: skip repositories already done
    const start = cursor?.next ?? 0;
    cursor = undefined;
    counts.repositories++;
    const tags = await pool.client(host, "source").tagListAll(repository, call);
    counts.listed += tags.length;
    if (opts.written && !opts.dryRun && start === 0) await queueDeletes(opts.written, rule, repo, new Set(tags), enqueue, counts);
    // cosign's and the referrers fallback tags are not images to mirror: they travel with their subjects.
    const images = tags.filter((t) => !parseCosignTag(t) && !parseFallbackTag(t));
    const { kept, filtered } = selectTags(rule, images);
    counts.skippedByFilter += filtered + tags.length - images.length;
    // One tag list and one referrers API probe per repository, whatever the number of tags.
    const context: ReferrerContext = { tags: Promise.resolve(new Set(tags)) };
    for (let i = start; i < kept.length; i += CHUNK) {
      if (opts.deadline && Date.now() > opts.deadline - MARGIN_MS) {
        await opts.cursors?.putCursor(cursorKey, JSON.stringify({ repo: repo.toString(), next: i } satisfies Cursor));
        log.info("backfill paused; a cursor was saved", { rule: rule.name, repo: repo.toString(), next: i, of: kept.length });
        return { counts, complete: false };
      }
      const chunk = kept.slice(i, i + CHUNK);
      await Promise.all(
        chunk.map((tag) => limiter.run(() => backfillTag({ pool, rule, enqueue, counts, dryRun: opts.dryRun === true, context, call }, repo, tag))),
      );
    }
  }
  await opts.cursors?.putCursor(cursorKey, undefined);
  log.info("backfill done", { rule: rule.name, ...counts });
  return { counts, complete: true };
}

/** Queues the delete jobs for tags ferry wrote from `repo` that the source no longer lists. */
async function queueDeletes(
  written: WrittenTags,
  rule: RuleConfig,
  repo: Repository,
  listed: Set<string>,
  enqueue: Enqueue,
  counts: BackfillCounts,
): Promise<void> {
  for (const d of await missingTagDeletes(written, rule, repo, listed)) {
    if (await enqueue(d.request, d.jobId)) counts.deletes = (counts.deletes ?? 0) + 1;
  }
}

interface TagRun {
  pool: RegistryPool;
  rule: RuleConfig;
  enqueue: Enqueue;
  counts: BackfillCounts;
  dryRun: boolean;
  context: ReferrerContext;
  call: CallOptions;
}

/** Compares one tag with its destinations and queues a replication when one is behind. */
async function backfillTag(run: TagRun, repo: Repository, tag: string): Promise<void> {
  const { rule, counts } = run;
  const stale = await staleDestinations(run, repo, tag);
  if (!stale) return; // deleted since listing
  if (stale.destinations.length === 0) {
    counts.upToDate++;
    return;
  }
  const request: ReplicationRequest = {
    source: repo.at(stale.digest, tag).toString(),
    destinations: stale.destinations,
    ...(rule.platforms ? { platforms: rule.platforms } : {}),
    ...(rule.merge ? { merge: true } : {}),
    ...(rule.normalize ? { normalize: rule.normalize } : {}),
    ...(rule.referrers ? { referrers: rule.referrers } : {}),
    trigger: "backfill",
    eventTime: new Date().toISOString(),
    rule: rule.name,
  };
  if (run.dryRun) {
    counts.enqueued++;
    return;
  }
  const created = await run.enqueue(request, deliveryJobId("backfill", rule.name, repo.toString(), tag, stale.digest, stale.destinations.join(",")));
  if (created) counts.enqueued++;
  else counts.alreadyQueued++;
}

/**
 * The destinations of `repo:tag` that are not up to date, as the root planner decides (HEADs
 * alone when the rule neither filters nor merges), and then, for those whose tag is current,
 * whether every referrer is there too; undefined when the tag is gone.
 */
async function staleDestinations(run: TagRun, repo: Repository, tag: string): Promise<{ digest: string; destinations: string[] } | undefined> {
  const { pool, rule, call } = run;
  const targets = rule.destinations.map((template) => renderDestination(template, { registry: repo.registry, repository: repo.path, tag }));
  const sinks = targets
    .map((d) => parseReference(d, { defaultTag: false }))
    .map((r) => ({ sink: storeFor(pool, r.repo, "destination"), tag: r.tagName ?? tag }));
  const source = storeFor(pool, repo, "source");
  let plan: RootPlan;
  try {
    plan = await planRoot({
      source,
      ref: tag,
      destinations: sinks,
      ...(rule.platforms ? { platforms: rule.platforms.map(parsePlatform) } : {}),
      ...(rule.merge ? { merge: true } : {}),
      ...(rule.normalize === "index" ? { toIndex: true } : {}),
      call,
      decideByHead: "decided",
    });
  } catch (e) {
    if (e instanceof FerryError && e.code === "NOT_FOUND" && e.side === "source") return undefined;
    throw e;
  }
  const current = plan.destinations.map((d) => d.upToDate);
  if (rule.referrers !== "none" && current.some(Boolean)) {
    const root = plan.source ?? (await resolveRoot(source, await source.manifestGet(plan.sourceDigest, call), undefined, call));
    const artifactTypes = typeof rule.referrers === "object" ? rule.referrers.artifactTypes : undefined;
    const found = await referrersFor(source, root, { rootKept: true, ...(artifactTypes ? { artifactTypes } : {}), context: run.context, call });
    for (const [i, d] of sinks.entries()) if (current[i] && !(await referrersPresent(d.sink, found.referrers, call))) current[i] = false;
  }
  return { digest: plan.sourceDigest, destinations: targets.filter((_, i) => !current[i]) };
}
