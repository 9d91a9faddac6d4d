/**
 * merge: runs once per job after every task has an outcome. Pushes the root (the source's bytes,
 * or the filtered index, or that merged with the destination's platforms), moves each tag under
 * the ordering guard (an older event never overwrites a newer one), records the result.
 */
import { describeError, FerryError } from "../errors.ts";
import { parseManifest } from "../oci/manifest.ts";
import type { CallOptions } from "../registry/client.ts";
import { mergeWithDestination, verbatim } from "../replicate/index-build.ts";
import type { DestinationResult, JobPlan, JobStatus } from "../state/store.ts";
import { FINAL_STATUSES } from "../state/store.ts";
import type { PipelineDeps } from "./deps.ts";
import { storeFor } from "./stores.ts";

/** How long a merge may hold a destination tag's lease. */
export const TAG_LEASE_MS = 60_000;

/** Merges a job; resolves to the status it set, or undefined when there was nothing to do. */
export async function runMerge(deps: PipelineDeps, jobId: string, claimant: string, opts: CallOptions = {}): Promise<JobStatus | undefined> {
  const job = await deps.store.getJob(jobId, { withTasks: true });
  if (!job || FINAL_STATUSES.includes(job.status)) return undefined;
  if (!(await deps.store.claimMerge(jobId, claimant))) {
    deps.log.info("merge: another delivery owns this job's merge", { jobId });
    return undefined;
  }
  const failedTasks = (job.tasks ?? []).filter((t) => t.state === "failed");
  if (failedTasks.length > 0 || !job.plan) {
    const why = failedTasks.map((t) => `${t.platform || t.digest} → ${t.destination}: ${t.error ?? "failed"}`).join("; ");
    await deps.store.updateJob(jobId, { status: "failed", error: why || "no plan recorded" });
    deps.log.error("job failed: tasks failed, no tag moved", { jobId, error: why });
    return "failed";
  }
  const plan: JobPlan = job.plan;
  const rootBytes = Buffer.from(plan.root.bytes, "base64");
  const root = { ...parseManifest(rootBytes, plan.root.mediaType), digest: plan.root.digest };
  const eventTime = Date.parse(job.request.eventTime) || Date.parse(job.createdAt);
  const results: DestinationResult[] = [];
  const warnings: string[] = [];
  try {
    for (const d of plan.destinations) {
      if (d.upToDate) {
        results.push({ destination: d.repository, digest: root.digest, upToDate: true, ...(d.tag ? { addressByTag: `${d.repository}:${d.tag}` } : {}), addressByDigest: `${d.repository}@${root.digest}` });
        continue;
      }
      const sink = storeFor(deps.registries, d.repository, "destination");
      let bytes: Buffer = rootBytes;
      let digest = root.digest;
      if (plan.merge && d.tag && root.manifest.kind === "index") {
        const there = await sink.manifestHead(d.tag, opts);
        if (there && there.digest !== digest) {
          const existing = await sink.manifestGet(there.digest, opts);
          if (existing.manifest.kind === "index") {
            const merged = mergeWithDestination({ ...verbatim(root), rebuilt: plan.root.rebuilt }, root, existing);
            bytes = merged.bytes;
            digest = merged.digest;
          } else warnings.push(`${d.repository}:${d.tag} held a single-platform manifest; it is replaced, not merged`);
        }
      }
      // The content by digest first: it exists whether or not the tag moves.
      await sink.manifestPut(digest, bytes, plan.root.mediaType, opts);
      if (!d.tag) {
        results.push({ destination: d.repository, digest, addressByDigest: `${d.repository}@${digest}` });
        continue;
      }
      const key = `${d.repository}:${d.tag}`;
      const claim = await deps.store.claimTag(key, jobId, eventTime, TAG_LEASE_MS);
      if (claim === "busy") {
        // Another job is moving this tag right now: let SQS bring this merge back shortly.
        throw new FerryError("REGISTRY", `${key} is being moved by another job; will retry`, { retryable: true, side: "destination" });
      }
      if (claim === "superseded") {
        warnings.push(`${key} was already moved by a newer event; left as it is`);
        results.push({ destination: d.repository, digest, superseded: true, addressByDigest: `${d.repository}@${digest}` });
        continue;
      }
      await sink.manifestPut(d.tag, bytes, plan.root.mediaType, opts);
      await deps.store.releaseTag(key, jobId, eventTime, digest);
      results.push({ destination: d.repository, digest, addressByTag: key, addressByDigest: `${d.repository}@${digest}` });
    }
  } catch (e) {
    if (e instanceof FerryError && !e.retryable) {
      await deps.store.updateJob(jobId, { status: "failed", error: describeError(e) });
      deps.log.error("merge failed", { jobId, error: describeError(e) });
      return "failed";
    }
    throw e;
  }
  const first = results[0];
  await deps.store.updateJob(jobId, {
    status: "succeeded",
    result: {
      digest: first?.digest ?? root.digest,
      addressByDigest: first?.addressByDigest ?? "",
      ...(first?.addressByTag ? { addressByTag: first.addressByTag } : {}),
      destinations: results,
      ...(warnings.length ? { warnings } : {}),
    },
  });
  deps.log.info("job succeeded", { jobId, src: plan.source, digest: first?.digest, destinations: results.length });
  return "succeeded";
}
