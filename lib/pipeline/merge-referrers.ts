/**
 * merge's steps besides the root, per destination: an image whose large blobs were tasks of their
 * own gets its manifest first; after the root is there by digest, each referrer's
 * manifest (its blobs came with the copy tasks), then the referrers fallback index and cosign's
 * tags, each under the destination tag's lease like any other tag move.
 */
import { FerryError } from "../errors.ts";
import type { Repository } from "../oci/reference.ts";
import { parseRepository } from "../oci/reference.ts";
import type { CallOptions } from "../registry/client.ts";
import { CopySession } from "../replicate/copy-session.ts";
import { orphanWarning, withoutDescendantsOf } from "../replicate/referrers.ts";
import { copyReferrers, type TagGuard } from "../replicate/referrers-copy.ts";
import type { RegistryStore } from "../replicate/registry-store.ts";
import { copyUnits } from "../replicate/root-plan.ts";
import type { Job, JobPlan } from "../state/store.ts";
import type { PipelineDeps } from "./deps.ts";
import { storeFor } from "./stores.ts";
import { rootOf } from "./tasks.ts";

/** How often a referrers tag write waits for another job's lease before giving up (then the merge is retried). */
const BUSY_TRIES = 40;

/** Copies the plan's referrers into one destination whose root is `rootDigest`; resolves to warnings. */
export async function pushReferrers(deps: PipelineDeps, job: Job, plan: JobPlan, repo: Repository, sink: RegistryStore, rootDigest: string, call: CallOptions) {
  const warnings: string[] = [];
  let referrers = plan.referrers ?? [];
  if (referrers.length === 0) return warnings;
  if (rootDigest !== plan.root.digest) {
    // Merged with the destination's platforms: what refers to the source's index refers to nothing here.
    const w = withoutDescendantsOf(referrers, plan.root.digest);
    referrers = w.kept;
    if (w.dropped > 0) warnings.push(orphanWarning(w.dropped, plan.root.digest));
  }
  const session = new CopySession(storeFor(deps.registries, parseRepository(plan.source), "source"), sink, call);
  await copyReferrers(session, referrers, { guard: leasedTags(deps, job, repo) });
  return warnings;
}

/**
 * The tag lease around a referrers tag write. A fallback index only ever gains entries, so it is
 * never superseded (event time 0); a cosign tag is ordered by event time like any tag. When the
 * lease was lost while writing, the write runs again: merging into the index again is harmless.
 */
function leasedTags(deps: PipelineDeps, job: Job, repo: Repository): TagGuard {
  const leaseMs = deps.config.pipeline.tagLease * 1000;
  const jobTime = Date.parse(job.request.eventTime) || Date.parse(job.createdAt);
  return async (tag, kind, write) => {
    const key = repo.address(tag);
    const eventTime = kind === "fallback" ? 0 : jobTime;
    for (let attempt = 0; attempt < BUSY_TRIES; attempt++) {
      const claim = await deps.store.claimTag(key, job.id, eventTime, leaseMs);
      if (claim === "superseded") return;
      if (claim === "busy") {
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
        continue;
      }
      // A failed write keeps the lease until it runs out (this job's retry takes it again).
      const digest = await write();
      // Lost the lease while writing: another writer may have merged from an older index; merge again.
      if ((await deps.store.releaseTag(key, job.id, eventTime, digest ?? "")) || digest === undefined) return;
    }
    throw new FerryError("TAG_BUSY", `${key} stayed leased by other jobs`, { retryable: true, side: "destination" });
  };
}

/** Images whose large blobs were tasks of their own: their manifests, now that every blob is there, before the root. */
export async function pushFannedImages(deps: PipelineDeps, plan: JobPlan, sink: RegistryStore, call: CallOptions): Promise<void> {
  const units = plan.fanOut?.units ?? [];
  if (units.length === 0) return;
  const session = new CopySession(storeFor(deps.registries, parseRepository(plan.source), "source"), sink, call);
  await Promise.all(units.map((u) => session.copyManifest(u.unit, u.platform)));
}

/**
 * Notes where the job's manifests now are (the root each destination got, the children, the
 * referrers), so a referrer pushed later for any of them follows to the same destinations.
 */
export async function recordReplicas(deps: PipelineDeps, plan: JobPlan, destinations: Array<{ destination: string; digest: string }>): Promise<void> {
  const units = copyUnits(rootOf(plan)).map((d) => d.digest);
  const referrers = (plan.referrers ?? []).map((r) => r.descriptor.digest);
  await Promise.all(destinations.map((d) => deps.store.addReplicas(plan.source, [...new Set([d.digest, ...units, ...referrers])], d.destination)));
}
