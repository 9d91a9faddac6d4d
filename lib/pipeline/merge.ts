/**
 * merge: runs once per job after every task has an outcome. Pushes the root (the source's bytes,
 * or the filtered index, or that merged with the destination's platforms), moves each tag under
 * the ordering guard (an older event never overwrites a newer one), records the result.
 *
 * The guard is a lease per destination tag, renewed while the tag's PUT runs; a PUT whose lease
 * is lost is aborted, and a PUT that landed anyway after a newer job moved the tag is repaired.
 * A merge that finds a tag leased by another job gives its claim up and comes back a little later
 * (a delayed message) until `pipeline.tagWait` runs out (then TAG_BUSY).
 */
import { type ErrorRecord, errorOf, FerryError } from "../errors.ts";
import { parseRepository } from "../oci/reference.ts";
import type { MergeMessage } from "../queue/messages.ts";
import type { CallOptions } from "../registry/client.ts";
import type { RegistryStore } from "../replicate/registry-store.ts";
import { planDestination } from "../replicate/root-plan.ts";
import type { DestinationResult, Job, JobPlan, JobStatus, Task } from "../state/store.ts";
import { FINAL_STATUSES } from "../state/store.ts";
import type { DeliveryInfo, PipelineDeps } from "./deps.ts";
import { failOnLastDelivery, heartbeat, reopenIfRedriven } from "./recovery.ts";
import { destinationResult, jobResult } from "./results.ts";
import { pushFannedImages, pushReferrers, recordReplicas } from "./merge-referrers.ts";
import { noteTagWritten } from "./deletes-record.ts";
import { storeFor } from "./stores.ts";
import { rootOf } from "./tasks.ts";

/** How long a merge claim holds: the longest merge function timeout (180 s on AWS, 120 s locally); no merge outlives it. */
export const MERGE_LEASE_MS = 180_000;

/** Merges a job; resolves to the status it set, "deferred" when it waits for a tag, or undefined. */
export async function runMerge(deps: PipelineDeps, msg: MergeMessage, claimant: string, d: DeliveryInfo): Promise<JobStatus | "deferred" | undefined> {
  const jobId = msg.jobId;
  const job = await deps.store.getJob(jobId);
  if (!job || (await reopenIfRedriven(deps, job)) || FINAL_STATUSES.includes(job.status)) return undefined;
  if (!(await deps.store.claimMerge(jobId, claimant, MERGE_LEASE_MS))) {
    deps.log.info("merge: another delivery owns this job's merge", { jobId });
    return undefined;
  }
  // The job's own sets say whether a task failed; the task items (with their errors) are read only then.
  const done = new Set(job.done);
  const failedIds = new Set(job.failed.filter((t) => !done.has(t)));
  const failedTasks = failedIds.size ? ((await deps.store.getJob(jobId, { withTasks: true }))?.tasks ?? []).filter((t) => failedIds.has(t.id)) : [];
  if (failedIds.size > 0 || !job.plan) {
    const error = failedIds.size ? tasksFailed(failedTasks) : errorOf("INTERNAL", "no plan recorded", { retryable: true });
    await deps.store.updateJob(jobId, { status: "failed", error });
    deps.log.error("job failed: tasks failed, no tag moved", { jobId, code: error.code, error: error.message });
    return "failed";
  }
  const opts: CallOptions = { ...(d.deadline ? { deadline: d.deadline } : {}), ...(d.signal ? { signal: d.signal } : {}) };
  const stopHeartbeat = heartbeat(deps, jobId);
  try {
    const outcome = await pushAndTag(deps, job, job.plan, opts);
    if (outcome === "busy") return await waitForTag(deps, msg, claimant);
    const result = jobResult(job.plan.root.digest, outcome.results, outcome.warnings);
    await recordReplicas(deps, job.plan, outcome.results);
    await deps.store.updateJob(jobId, { status: "succeeded", result });
    deps.log.info("job succeeded", { jobId, src: job.plan.source, digest: result.digest, destinations: result.destinations.length });
    return "succeeded";
  } catch (e) {
    return failOnLastDelivery(deps, jobId, e, d, "merge", ["merging"]);
  } finally {
    stopHeartbeat();
  }
}

/** One record for the failed tasks: their common code (or the first one's), every reason listed. */
function tasksFailed(tasks: Task[]): ErrorRecord {
  const errors = tasks.map((t) => t.error ?? errorOf("INTERNAL", "failed", { retryable: true }));
  const first = errors[0] ?? errorOf("INTERNAL", "a task failed", { retryable: true });
  const message = tasks.map((t, i) => `${t.platform || t.digest} → ${t.destination}: ${errors[i]?.message}`).join("; ");
  return { ...first, message, retryable: errors.every((e) => e.retryable) };
}

/** Gives the claim up and comes back later, or fails with TAG_BUSY once the wait is over. */
async function waitForTag(deps: PipelineDeps, msg: MergeMessage, claimant: string): Promise<"deferred" | "failed"> {
  const since = msg.waitingSince ?? Date.now();
  const waited = Date.now() - since;
  if (waited > deps.config.pipeline.tagWait * 1000) {
    const error = errorOf("TAG_BUSY", `a destination tag stayed leased by other jobs for ${Math.round(waited / 1000)} s`, {
      side: "destination",
      retryable: true,
    });
    await deps.store.updateJob(msg.jobId, { status: "failed", error }, ["merging"]);
    deps.log.error("job failed: tag busy", { jobId: msg.jobId, code: error.code });
    return "failed";
  }
  await deps.store.releaseMerge(msg.jobId, claimant);
  await deps.store.touchJob(msg.jobId);
  // 1–3 s, growing a little with the wait: contended tags clear in the order leases free up.
  const delaySeconds = Math.min(10, 1 + Math.floor(waited / 10_000) + Math.floor(Math.random() * 2));
  await deps.queues.send("merge", [{ ...msg, waitingSince: since }], { delaySeconds });
  deps.log.info("merge: a destination tag is busy; waiting", { jobId: msg.jobId, waitedMs: waited, delaySeconds });
  return "deferred";
}

async function pushAndTag(
  deps: PipelineDeps,
  job: Job,
  plan: JobPlan,
  opts: CallOptions,
): Promise<{ results: DestinationResult[]; warnings: string[] } | "busy"> {
  const source = rootOf(plan);
  const eventTime = Date.parse(job.request.eventTime) || Date.parse(job.createdAt);
  const results: DestinationResult[] = [];
  const warnings: string[] = [];
  for (const d of plan.destinations) {
    const repo = parseRepository(d.repository);
    if (d.upToDate) {
      results.push(destinationResult(repo, source.digest, { ...(d.tag ? { tag: d.tag } : {}), upToDate: true }));
      continue;
    }
    const sink = storeFor(deps.registries, repo, "destination");
    // The root exists by digest whether or not the tag moves: put by digest first when referrers
    // need it before the tag or there is no tag, else by the tag alone (or by digest when superseded).
    const rootStays = d.rootUpToDate === true || plan.only === "referrers";
    let { bytes, digest } = source;
    const putByDigest = () => sink.manifestPut(digest, bytes, plan.root.mediaType, opts);
    if (!rootStays) {
      // The destination's root now (a merge reads the tag again: it may have moved since plan).
      const planned = await planDestination(sink, source, { ...(d.tag ? { tag: d.tag } : {}), merge: plan.merge, call: opts });
      warnings.push(...planned.warnings);
      ({ bytes, digest } = planned.destination.root ?? source);
      await pushFannedImages(deps, plan, sink, opts);
      if (!d.tag || plan.referrers?.length) await putByDigest();
    }
    const rootPut = rootStays || !d.tag || (plan.referrers?.length ?? 0) > 0;
    // What refers to it, after it and before its tag moves.
    warnings.push(...(await pushReferrers(deps, job, plan, repo, sink, digest, opts)));
    if (rootStays || !d.tag) {
      results.push(destinationResult(repo, digest, { ...(d.tag ? { tag: d.tag } : {}), ...(rootStays ? { upToDate: true } : {}) }));
      continue;
    }
    const key = repo.address(d.tag);
    const leaseMs = deps.config.pipeline.tagLease * 1000;
    const claim = await deps.store.claimTag(key, job.id, eventTime, leaseMs);
    if (claim === "busy") return "busy";
    if (claim === "superseded") {
      if (!rootPut) await putByDigest();
      warnings.push(`${key} was already moved by a newer event; left as it is`);
      results.push(destinationResult(repo, digest, { superseded: true }));
      continue;
    }
    await underLease(deps, key, job.id, leaseMs, opts, (o) => sink.manifestPut(d.tag as string, bytes, plan.root.mediaType, o));
    if (!(await deps.store.releaseTag(key, job.id, eventTime, digest)) && (await repairTag(deps, sink, key, d.tag, digest, job.id, opts))) {
      warnings.push(`${key} was moved by a newer event while this job's PUT ran; the newer digest was put back`);
      results.push(destinationResult(repo, digest, { superseded: true }));
      continue;
    }
    await noteTagWritten(deps, job, plan.source, repo, d.tag, digest, eventTime);
    results.push(destinationResult(repo, digest, { tag: d.tag }));
  }
  return { results, warnings };
}

/**
 * Runs `put` while renewing the tag's lease every third of its length; aborts it when the lease
 * cannot be renewed before it runs out, so no PUT can land after another job took the tag.
 */
async function underLease<T>(
  deps: PipelineDeps,
  key: string,
  jobId: string,
  leaseMs: number,
  opts: CallOptions,
  put: (o: CallOptions) => Promise<T>,
): Promise<T> {
  const lost = new AbortController();
  let validUntil = Date.now() + leaseMs;
  const margin = Math.min(1000, leaseMs / 4);
  const timer = setInterval(
    () => {
      if (Date.now() > validUntil - margin) {
        lost.abort(new FerryError("TAG_BUSY", `lost the lease on ${key} while moving it`, { retryable: true, side: "destination" }));
        return;
      }
      const asked = Date.now();
      deps.store.renewTag(key, jobId, leaseMs).then(
        (ok) => {
          if (ok) validUntil = asked + leaseMs;
          else lost.abort(new FerryError("TAG_BUSY", `lost the lease on ${key} while moving it`, { retryable: true, side: "destination" }));
        },
        () => undefined, // the next tick tries again while the lease lasts
      );
    },
    Math.max(100, leaseMs / 3),
  );
  const signal = opts.signal ? AbortSignal.any([opts.signal, lost.signal]) : lost.signal;
  try {
    return await put({ ...opts, signal });
  } catch (e) {
    if (lost.signal.aborted) throw lost.signal.reason;
    throw e;
  } finally {
    clearInterval(timer);
  }
}

/**
 * Our release failed: the lease ran out and a newer job may have moved the tag before our PUT
 * landed. Under that job's event time, put its digest back if the tag now shows ours. True when
 * the tag belongs to a newer event (this job's move is superseded).
 */
async function repairTag(deps: PipelineDeps, sink: RegistryStore, key: string, tag: string, ours: string, jobId: string, opts: CallOptions): Promise<boolean> {
  const rec = await deps.store.getTag(key);
  if (!rec?.digest || rec.eventTime === undefined || rec.digest === ours) return false;
  const repairer = `repair:${jobId}`;
  if ((await deps.store.claimTag(key, repairer, rec.eventTime, deps.config.pipeline.tagLease * 1000)) !== "acquired") return true; // a newer holder moves it after us
  try {
    const there = await sink.manifestHead(tag, opts);
    if (there?.digest !== rec.digest) {
      const newer = await sink.manifestGet(rec.digest, opts);
      await sink.manifestPut(tag, newer.bytes, newer.mediaType, opts);
      deps.log.warn("tag repaired: a late PUT had regressed it", { jobId, key, digest: rec.digest });
    }
  } finally {
    await deps.store.releaseTag(key, repairer, rec.eventTime, rec.digest);
  }
  return true;
}
