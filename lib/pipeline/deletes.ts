/**
 * Delete propagation (a rule's `deletes: propagate`): a delete job removes the destination tags
 * ferry wrote from a source tag that was deleted, once its delay has passed.
 *
 * The job waits on the plan queue: each delivery before `notBefore` touches the job (so the
 * reconciler sees it move) and sends its message again with a delay of at most half the stuck
 * threshold (and never over SQS's 900 s), so the wait survives restarts and needs no timer.
 * Then the source is asked again: a tag pushed again meanwhile cancels the deletion. Each
 * destination tag is deleted only under its lease, ordered by event time with the moves (a newer
 * push wins), only while it still holds the digest ferry recorded writing there, by tag where the
 * registry can, else by digest where no other tag of the repository references the manifest.
 * What was deleted and what was kept, and why, is the job's result.
 */
import { DeferredError, RegistryError } from "../errors.ts";
import { isIndexType } from "../oci/media-types.ts";
import { parseReference, type Repository } from "../oci/reference.ts";
import type { CallOptions, RegistryClient } from "../registry/client.ts";
import { forEachLimit } from "../replicate/limiter.ts";
import type { Job, JobResult, TagDeletion, WrittenTag } from "../state/store.ts";
import type { KeptReason } from "../state/written-tags.ts";
import type { DeliveryInfo, PipelineDeps } from "./deps.ts";
import { failOnLastDelivery, heartbeat, stuckAfterSeconds } from "./recovery.ts";
import { storeFor } from "./stores.ts";

/** HEADs at once while looking for other tags that reference a manifest. */
const TAG_CHECKS_IN_FLIGHT = 8;

/** True for a delete job (a source tag deleted under a rule that propagates deletes). */
export const isDeleteJob = (job: Job): boolean => job.request.action === "delete";

/** Runs (or keeps waiting) a delete job; resolves to what plan reports for it. */
export async function runDeleteJob(deps: PipelineDeps, job: Job, d: DeliveryInfo): Promise<"planned" | "skipped" | "failed" | "ignored"> {
  const waitMs = (Date.parse(job.request.notBefore ?? "") || 0) - Date.now();
  if (job.status === "queued" && waitMs > 0) {
    await waitFor(deps, job.id, waitMs);
    return "ignored";
  }
  if (!(await deps.store.updateJob(job.id, { status: "planning" }, ["queued", "planning"]))) return "ignored";
  const opts: CallOptions = { ...(d.deadline ? { deadline: d.deadline } : {}), ...(d.signal ? { signal: d.signal } : {}) };
  const stopHeartbeat = heartbeat(deps, job.id);
  try {
    const deletions = await deleteAll(deps, job, opts);
    const deleted = deletions.filter((x) => x.outcome === "deleted");
    const status = deleted.length > 0 ? "succeeded" : "skipped";
    const result: JobResult = { digest: deleted[0]?.digest ?? deletions[0]?.digest ?? "", addressByDigest: "", destinations: [], deletions };
    await deps.store.updateJob(job.id, { status, result }, ["planning"]);
    deps.log.info("delete job done", { jobId: job.id, src: job.request.source, status, deleted: deleted.map((x) => x.destination) });
    return status === "succeeded" ? "planned" : "skipped";
  } catch (e) {
    if (e instanceof DeferredError) throw e;
    return failOnLastDelivery(deps, job.id, e, d, "delete", ["planning"]);
  } finally {
    stopHeartbeat();
  }
}

/** Notes progress and comes back later: at most half the stuck threshold later, so the reconciler never takes the wait for a stall. */
async function waitFor(deps: PipelineDeps, jobId: string, waitMs: number): Promise<void> {
  const step = Math.max(1, Math.floor(stuckAfterSeconds(deps.config.pipeline) / 2));
  const delaySeconds = Math.min(900, step, Math.ceil(waitMs / 1000));
  await deps.store.touchJob(jobId);
  await deps.queues.send("plan", [{ v: 1, kind: "plan", jobId }], { delaySeconds });
}

/** The source tag checked again, then each destination tag in turn. */
async function deleteAll(deps: PipelineDeps, job: Job, opts: CallOptions): Promise<TagDeletion[]> {
  const src = parseReference(job.request.source, { defaultTag: false });
  const tag = src.tagName ?? "";
  const targets = job.request.destinations.map((dest) => {
    const ref = parseReference(dest, { defaultTag: false });
    return { repo: ref.repo, tag: ref.tagName ?? tag };
  });
  const back = await storeFor(deps.registries, src.repo, "source").manifestHead(tag, opts);
  if (back) return targets.map((t) => kept(t.repo.address(t.tag), "REPUSHED", undefined, `the source tag holds ${back.digest} again`));
  const eventTime = Date.parse(job.request.eventTime) || Date.parse(job.createdAt);
  const out: TagDeletion[] = [];
  for (const t of targets) out.push(await deleteOne(deps, job.id, src.repo.toString(), t, eventTime, opts));
  return out;
}

const kept = (destination: string, reason: KeptReason, digest?: string, detail?: string): TagDeletion => ({
  destination,
  outcome: "kept",
  reason,
  ...(digest ? { digest } : {}),
  ...(detail ? { detail } : {}),
});

/** One destination tag, under its lease: deleted only while it holds what ferry wrote there. */
async function deleteOne(
  deps: PipelineDeps,
  jobId: string,
  source: string,
  t: { repo: Repository; tag: string },
  eventTime: number,
  opts: CallOptions,
): Promise<TagDeletion> {
  const key = t.repo.address(t.tag);
  const written = await deps.store.getWritten(source, t.repo.toString(), t.tag);
  if (!written) return kept(key, "NOT_WRITTEN_BY_FERRY");
  const claim = await deps.store.claimTag(key, jobId, eventTime, deps.config.pipeline.tagLease * 1000);
  if (claim === "busy") throw new DeferredError(`${key} is leased by another job`, 2, { side: "destination" });
  if (claim === "superseded") return kept(key, "SUPERSEDED", written.digest, "a newer push moved the tag");
  let holds: string | undefined = written.digest;
  try {
    const client = deps.registries.client(t.repo.registry, "destination");
    holds = (await client.manifestHead(t.repo.path, t.tag, opts))?.digest;
    if (!holds) {
      await forget(deps, written);
      return kept(key, "ALREADY_GONE", written.digest);
    }
    if (holds !== written.digest) {
      await forget(deps, written); // someone else's tag now: never ferry's to delete
      return kept(key, "MOVED_SINCE_WRITTEN", written.digest, `the tag holds ${holds}`);
    }
    const removed = await removeTag(client, t.repo.path, t.tag, holds, opts);
    if (removed.referencedBy) return kept(key, "REFERENCED", holds, `also referenced by ${removed.referencedBy.join(", ")}`);
    await forget(deps, written);
    deps.log.info("destination tag deleted", { jobId, dst: key, digest: holds, by: removed.by });
    return { destination: key, outcome: "deleted", digest: holds, by: removed.by };
  } finally {
    await deps.store.releaseTag(key, jobId, eventTime, holds ?? written.digest);
  }
}

async function forget(deps: PipelineDeps, w: WrittenTag): Promise<void> {
  await deps.store.forgetWritten(w.source, w.destination, w.tag, w.digest);
}

/**
 * Deletes `tag` (holding `digest`): by tag where the registry allows it (OCI distribution-spec),
 * else by digest, which removes every tag on the manifest, so only when no other tag references it.
 */
async function removeTag(
  client: RegistryClient,
  repo: string,
  tag: string,
  digest: string,
  opts: CallOptions,
): Promise<{ by: "tag" | "digest"; referencedBy?: undefined } | { by?: undefined; referencedBy: string[] }> {
  try {
    await client.manifestDelete(repo, tag, opts);
    return { by: "tag" };
  } catch (e) {
    // distribution 2.8 answers 400 DIGEST_INVALID; others 405 or 501 UNSUPPORTED.
    if (!(e instanceof RegistryError) || ![400, 405, 501].includes(e.status)) throw e;
  }
  const others = await tagsReferencing(client, repo, tag, digest, opts);
  if (others.length > 0) return { referencedBy: others };
  await client.manifestDelete(repo, digest, opts);
  return { by: "digest" };
}

/** The repository's other tags that resolve to `digest`, or to an index that lists it. */
async function tagsReferencing(client: RegistryClient, repo: string, tag: string, digest: string, opts: CallOptions): Promise<string[]> {
  const tags = (await client.tagListAll(repo, opts)).filter((t) => t !== tag);
  const found: string[] = [];
  await forEachLimit(tags, TAG_CHECKS_IN_FLIGHT, async (other) => {
    const head = await client.manifestHead(repo, other, opts);
    if (!head) return;
    if (head.digest === digest) found.push(other);
    else if (isIndexType(head.mediaType) && indexLists((await client.manifestGet(repo, head.digest, opts)).bytes, digest)) found.push(other);
  });
  return found.sort();
}

/** True when the index's `manifests` list `digest`. */
function indexLists(bytes: Buffer, digest: string): boolean {
  try {
    const m = JSON.parse(bytes.toString("utf8")) as { manifests?: Array<{ digest?: unknown }> };
    return (m.manifests ?? []).some((c) => c.digest === digest);
  } catch {
    return true; // unreadable: assume it might, and keep the manifest
  }
}
