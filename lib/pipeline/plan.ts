/**
 * plan: resolve the source, skip destinations already up to date, apply the platform filter,
 * record the plan and its tasks (one per child manifest × destination), send one copy message
 * per task, and only then mark the job `copying`. A crash anywhere in between leaves the job in
 * `planning`, and the next delivery (or the reconciler) resumes it with the plan it recorded.
 */
import { FerryError, onSide } from "../errors.ts";
import { isIndexType } from "../oci/media-types.ts";
import { formatPlatform, parsePlatform } from "../oci/platform.ts";
import { parseReference, parseRepository } from "../oci/reference.ts";
import type { CallOptions } from "../registry/client.ts";
import type { ReplicationRequest } from "../queue/messages.ts";
import { type Referrer, referrersFor } from "../replicate/referrers.ts";
import { referrersPresent } from "../replicate/referrers-copy.ts";
import type { RegistryStore } from "../replicate/registry-store.ts";
import { isAttestation } from "../replicate/index-build.ts";
import { copyUnits, planRoot, type SourceRoot } from "../replicate/root-plan.ts";
import type { Job, JobPlan } from "../state/store.ts";
import type { DeliveryInfo, PipelineDeps } from "./deps.ts";
import { isDeleteJob, runDeleteJob } from "./deletes.ts";
import { checkSignature } from "./gate.ts";
import { recordReplicas } from "./merge-referrers.ts";
import { failOnLastDelivery, heartbeat, reopenIfRedriven } from "./recovery.ts";
import { destinationResult, jobResult } from "./results.ts";
import { storeFor } from "./stores.ts";
import { copyMessages, tasksOf } from "./tasks.ts";

export type PlanOutcome = "planned" | "skipped" | "failed" | "ignored";

export async function planJob(deps: PipelineDeps, jobId: string, d: DeliveryInfo): Promise<PlanOutcome> {
  let job = await deps.store.getJob(jobId);
  if (!job) {
    deps.log.warn("plan: no such job; message dropped", { jobId });
    return "ignored";
  }
  if (await reopenIfRedriven(deps, job)) return "ignored";
  if (isDeleteJob(job)) return runDeleteJob(deps, job, d);
  // A fresh job becomes `planning` when its plan is recorded (one write); a resumed one now.
  const ready = job.status === "queued" || job.status === "planning";
  if (!ready || (job.plan && !(await deps.store.updateJob(jobId, { status: "planning" }, ["queued", "planning"])))) {
    deps.log.info("plan: job already past planning, nothing to do", { jobId, status: job.status });
    return "ignored";
  }
  const opts: CallOptions = { ...(d.deadline ? { deadline: d.deadline } : {}), ...(d.signal ? { signal: d.signal } : {}) };
  const stopHeartbeat = heartbeat(deps, jobId);
  try {
    let plan = job.plan;
    let resumed = plan !== undefined;
    // Child manifests plan read: their copy messages carry them, so the copies need not GET them again.
    const read = new Map<string, Buffer>();
    if (!plan) {
      const resolved = await resolvePlan(deps, job, opts, read);
      const tasks = tasksOf(resolved);
      if (tasks.length === 0) {
        const result = upToDateResult(resolved);
        await recordReplicas(deps, resolved, result.destinations);
        await deps.store.updateJob(jobId, { status: "skipped", plan: resolved, taskCount: 0, result }, ["queued", "planning"]);
        deps.log.info("plan: every destination is up to date", { jobId, src: resolved.source, digest: resolved.root.digest });
        return "skipped";
      }
      if (await heldByGate(deps, job, resolved, opts)) return "failed";
      // Recorded once: a concurrent plan run (a duplicate message) uses the winner's plan.
      if (await deps.store.recordPlan(jobId, resolved, tasks.length)) plan = resolved;
      else {
        job = await deps.store.getJob(jobId);
        if (!job?.plan) return "ignored";
        plan = job.plan;
        resumed = true;
      }
    }
    const tasks = tasksOf(plan);
    // A first run puts every task; a run that resumes a recorded plan puts only what is missing
    // and sends only what has not finished.
    const recorded = resumed ? await deps.store.getJob(jobId, { withTasks: true }) : undefined;
    const have = new Set((recorded?.tasks ?? []).map((t) => t.id));
    const missing = tasks.filter((t) => !have.has(t.id));
    if (missing.length) await deps.store.putTasks(jobId, missing);
    const finished = new Set([...(recorded?.done ?? []), ...(recorded?.failed ?? [])]);
    await deps.queues.send(
      "copy",
      copyMessages(
        jobId,
        plan,
        tasks.filter((t) => !finished.has(t.id)),
        read,
      ),
    );
    await deps.store.updateJob(jobId, { status: "copying" }, ["planning"]);
    deps.log.info("plan: tasks sent", { jobId, src: plan.source, digest: plan.root.digest, tasks: tasks.length, platforms: plan.platforms, resumed });
    return "planned";
  } catch (e) {
    return failOnLastDelivery(deps, jobId, e, d, "plan", ["queued", "planning"]);
  } finally {
    stopHeartbeat();
  }
}

/**
 * The rule's signature gate, before anything is copied: a job whose image is not validly signed
 * fails (UNSIGNED, SIGNATURE_INVALID), and waits for a signature; one pushed later plans it again.
 */
async function heldByGate(deps: PipelineDeps, job: Job, plan: JobPlan, call: CallOptions): Promise<boolean> {
  const rule = job.request.rule ? deps.config.rules.find((r) => r.name === job.request.rule) : undefined;
  if (!rule?.verify || plan.only === "referrers") return false;
  const source = storeFor(deps.registries, parseRepository(plan.source), "source");
  const error = await checkSignature(deps, rule, source, plan.sourceDigest, call);
  if (!error) return false;
  await deps.store.holdForSignature(plan.source, plan.sourceDigest, job.id);
  await deps.store.updateJob(job.id, { status: "failed", error }, ["queued", "planning"]);
  deps.log.error("job failed: the rule's signature gate held it back", { jobId: job.id, code: error.code, error: error.message });
  return true;
}

/** Resolves the source and decides what to copy where (the root planner), as a plan to record. */
async function resolvePlan(deps: PipelineDeps, job: Job, call: CallOptions, read: Map<string, Buffer>): Promise<JobPlan> {
  const r = job.request;
  const src = parseReference(r.source, { defaultTag: false });
  const source = storeFor(deps.registries, src.repo, "source");
  const destinations = r.destinations.map((d) => {
    const ref = parseReference(d, { defaultTag: false });
    const tag = ref.tagName ?? (src.tagName && !ref.digest ? src.tagName : undefined);
    return { repository: ref.repo, sink: storeFor(deps.registries, ref.repo, "destination"), ...(tag ? { tag } : {}) };
  });
  const plan = await planRoot({
    source,
    ref: src.manifestRef,
    destinations: destinations.map((d) => ({ sink: d.sink, ...(d.tag ? { tag: d.tag } : {}) })),
    ...(r.platforms ? { platforms: r.platforms.map(parsePlatform) } : {}),
    ...(r.merge ? { merge: true } : {}),
    ...(r.normalize === "index" ? { toIndex: true } : {}),
    call,
  });
  const root = plan.source;
  if (!root) throw new FerryError("INTERNAL", "the root planner did not read the root");
  const referrers = await referrersOf(source, root, r, call);
  const fanOut = r.only === "referrers" ? undefined : await fanOutOf(source, root, deps.config.pipeline.resumeAboveBytes, read, call);
  // A destination is up to date when its tag holds the root and every referrer is there too.
  const upToDate = await Promise.all(
    plan.destinations.map(
      async (d, i) =>
        (d.upToDate || r.only === "referrers") && (await referrersPresent((destinations[i] as (typeof destinations)[number]).sink, referrers, call)),
    ),
  );
  return {
    source: src.repo.toString(),
    sourceDigest: plan.sourceDigest,
    root: { bytes: root.bytes.toString("base64"), digest: root.digest, mediaType: root.mediaType, rebuilt: root.rebuilt },
    destinations: plan.destinations.map((d, i) => ({
      repository: (destinations[i] as (typeof destinations)[number]).repository.toString(),
      ...(d.tag ? { tag: d.tag } : {}),
      ...(upToDate[i] ? { upToDate: true } : d.upToDate ? { rootUpToDate: true } : {}),
    })),
    merge: r.merge === true,
    platforms: root.platforms,
    ...(referrers.length ? { referrers } : {}),
    ...(r.only ? { only: r.only } : {}),
    ...(fanOut ? { fanOut } : {}),
  };
}

/**
 * The images whose large blobs are worth a task each (where that helps: two or more blobs of at
 * least `threshold`, copied in parallel and each resumably), with the image's platform.
 */
async function fanOutOf(source: RegistryStore, root: SourceRoot, threshold: number, read: Map<string, Buffer>, call: CallOptions): Promise<JobPlan["fanOut"]> {
  const units = copyUnits(root).filter((d) => !isIndexType(d.mediaType) && !isAttestation(d));
  const found = await Promise.all(
    units.map(async (unit) => {
      const raw = unit.digest === root.digest ? undefined : await onSide(source.manifestGet(unit.digest, call), "source");
      if (raw) read.set(raw.digest, raw.bytes);
      else if (!root.rebuilt) read.set(root.digest, root.bytes); // a single image: its task copies the root plan read
      const m = raw ? raw.manifest : root.manifest;
      if (m.kind !== "manifest") return undefined;
      const blobs = [m.config, ...m.layers].filter((b, i, all) => b.size >= threshold && all.findIndex((x) => x.digest === b.digest) === i);
      const platform = unit.platform ? formatPlatform(unit.platform) : (root.platforms[0] ?? "");
      return blobs.length >= 2 ? { unit, platform, blobs } : undefined;
    }),
  );
  const list = found.filter((x) => x !== undefined);
  return list.length > 0 ? { skipAbove: threshold, units: list } : undefined;
}

/** What refers to the image at the source, as the request asks (all by default). */
async function referrersOf(source: RegistryStore, root: SourceRoot, r: ReplicationRequest, call: CallOptions): Promise<Referrer[]> {
  if (r.referrers === "none") return [];
  const artifactTypes = typeof r.referrers === "object" ? r.referrers.artifactTypes : undefined;
  const found = await referrersFor(source, root, { rootKept: true, ...(artifactTypes ? { artifactTypes } : {}), call });
  return found.referrers;
}

function upToDateResult(plan: JobPlan) {
  const digest = plan.root.digest;
  return jobResult(
    digest,
    plan.destinations.map((d) => destinationResult(parseRepository(d.repository), digest, { ...(d.tag ? { tag: d.tag } : {}), upToDate: true })),
  );
}
