/**
 * copy: copies one manifest by digest (with everything it references) into one destination,
 * records the task's outcome, and — when that completes the job's task set — enqueues the merge.
 * While it runs it records progress on the job, so the reconciler knows it is alive.
 * A blob of `resumeAboveBytes` or more is copied resumably: when the deadline comes first, where
 * it stopped is saved in the store's upload records and the task ends with RESUMABLE, so the
 * next delivery goes on from there (lib/registry/resumable-copy.ts).
 */
import { errorRecord } from "../errors.ts";
import type { CopyMessage } from "../queue/messages.ts";
import type { CopyResult } from "../replicate/copy.ts";
import { type Descriptor, parseManifest, type RawManifest } from "../oci/manifest.ts";
import { CopySession, type LargeBlobCopier } from "../replicate/copy-session.ts";
import { blobCopyResumable, canResume, type ResumeBook } from "../registry/resumable-copy.ts";
import type { UploadRecords } from "../state/store.ts";
import type { ErrorRecord } from "../errors.ts";
import { FINAL_STATUSES } from "../state/store.ts";
import type { DeliveryInfo, PipelineDeps } from "./deps.ts";
import { heartbeat, reopenIfRedriven } from "./recovery.ts";
import { storeFor } from "./stores.ts";

export type CopyTaskStats = Pick<CopyResult, "blobs" | "bytes"> & { durationMs: number; outcome: "done" | "failed" | "skipped" | "paused" };

/** Blobs this large or larger resume across deliveries unless told otherwise. */
export const RESUME_ABOVE_BYTES = 256 * 1024 * 1024;

/** How a copy task treats large blobs (defaults: {@link RESUME_ABOVE_BYTES}, resumable-copy.ts's reserve and chunk size). */
export interface CopyTaskSettings {
  resumeAboveBytes?: number;
  reserveMs?: number;
  chunkSize?: number;
}

const NOTHING: CopyTaskStats = { blobs: { copied: 0, skipped: 0, mounted: 0, foreignSkipped: 0 }, bytes: 0, durationMs: 0, outcome: "skipped" };

export async function runCopyTask(deps: PipelineDeps, msg: CopyMessage, d: DeliveryInfo, settings: CopyTaskSettings = {}): Promise<CopyTaskStats> {
  const started = Date.now();
  const job = await deps.store.getJob(msg.jobId);
  if (!job || (await reopenIfRedriven(deps, job)) || FINAL_STATUSES.includes(job.status)) return NOTHING;
  const session = new CopySession(storeFor(deps.registries, msg.source, "source"), storeFor(deps.registries, msg.destination, "destination"), {
    ...(d.deadline ? { deadline: d.deadline } : {}),
    ...(d.signal ? { signal: d.signal } : {}),
    ...(d.deadline ? largeBlobs(deps, msg, d, settings) : {}),
  });
  const fields = { jobId: msg.jobId, task: msg.taskId, src: msg.source, dst: msg.destination, digest: msg.digest, platform: msg.platform };
  const stopHeartbeat = heartbeat(deps, msg.jobId);
  let outcome: "done" | "failed" = "done";
  try {
    const desc = { mediaType: msg.mediaType, digest: msg.digest, size: msg.size };
    // A referrer's manifest (and a fanned-out image's) is pushed by merge, after its blobs; those travel here.
    const known = carried(msg);
    if (msg.blob) await session.copyBlob(desc, msg.platform);
    else if (msg.contentOnly) await session.copyContent(desc, msg.platform, msg.skipAbove, known);
    else await session.copyManifest(desc, msg.platform, known);
  } catch (e) {
    const error = errorRecord(e);
    if (error.code === "RESUMABLE") {
      deps.log.info("copy paused before the deadline, will resume", { ...fields, attempt: d.receiveCount, error: error.message });
      if (d.receiveCount < d.maxReceiveCount) throw e;
      // Its last delivery: a fresh message carries the work on, not the dead-letter queue.
      await deps.queues.send("copy", [msg]);
      return { ...statsOf(session), durationMs: Date.now() - started, outcome: "paused" };
    }
    if (error.retryable && d.receiveCount < d.maxReceiveCount) {
      // Let SQS deliver it again; the task shows the error meanwhile.
      await deps.store.noteTaskAttempt(msg.jobId, msg.taskId, error);
      deps.log.warn("copy attempt failed, will retry", { ...fields, attempt: d.receiveCount, code: error.code, error: error.message });
      throw e;
    }
    outcome = "failed";
    await completeAndMaybeMerge(deps, msg, "failed", error);
    deps.log.error("copy failed", { ...fields, attempt: d.receiveCount, code: error.code, error: error.message });
    // The last delivery of a retryable failure still goes to the DLQ, its reason recorded first.
    if (error.retryable) throw e;
    return { ...statsOf(session), durationMs: Date.now() - started, outcome };
  } finally {
    stopHeartbeat();
  }
  await completeAndMaybeMerge(deps, msg, "done");
  const stats = { ...statsOf(session), durationMs: Date.now() - started, outcome };
  deps.log.info("copy done", { ...fields, ...stats.blobs, bytes: stats.bytes, durationMs: stats.durationMs });
  return stats;
}

/**
 * Large blobs copied resumably, their place kept under the task and digest in the store's upload
 * records; none where the destination's upload status cannot be trusted (ECR).
 */
function largeBlobs(deps: PipelineDeps, msg: CopyMessage, d: DeliveryInfo, settings: CopyTaskSettings): { largeBlobs?: LargeBlobCopier } {
  const src = { ep: deps.registries.client(msg.source.registry, "source"), repo: msg.source.path };
  const dst = { ep: deps.registries.client(msg.destination.registry, "destination"), repo: msg.destination.path };
  if (!canResume(dst.ep)) return {};
  const call = { ...(d.deadline ? { deadline: d.deadline } : {}), ...(d.signal ? { signal: d.signal } : {}), ...pick(settings) };
  const copy = async (desc: Descriptor, location: string | undefined) => {
    const book = uploadBook(deps.store, `${msg.jobId}/${msg.taskId}/${desc.digest}`);
    await blobCopyResumable(src, dst, desc, book, { ...call, ...(location ? { location } : {}) });
  };
  return { largeBlobs: { minSize: settings.resumeAboveBytes ?? RESUME_ABOVE_BYTES, copy } };
}

const pick = (s: CopyTaskSettings) => ({
  ...(s.reserveMs !== undefined ? { reserveMs: s.reserveMs } : {}),
  ...(s.chunkSize ? { chunkSize: s.chunkSize } : {}),
});

/** The store's upload records under one key. */
function uploadBook(store: UploadRecords, key: string): ResumeBook {
  return { get: () => store.getUpload(key), save: (p) => store.saveUpload(key, p), drop: () => store.dropUpload(key) };
}

function statsOf(s: CopySession): Pick<CopyResult, "blobs" | "bytes"> {
  return {
    blobs: { copied: s.stats.copied, skipped: s.stats.skipped, mounted: s.stats.mounted, foreignSkipped: s.stats.foreignSkipped },
    bytes: s.stats.bytes,
  };
}

async function completeAndMaybeMerge(deps: PipelineDeps, msg: CopyMessage, state: "done" | "failed", error?: ErrorRecord): Promise<void> {
  const c = await deps.store.completeTask(msg.jobId, msg.taskId, { state, ...(error ? { error } : {}) });
  if (c.complete && (await deps.store.claimMergeEnqueue(msg.jobId, msg.taskId))) {
    await deps.queues.send("merge", [{ v: 1, kind: "merge", jobId: msg.jobId }]);
  }
}

/** The manifest the message carries (read by plan), when its bytes parse; the session uses it only when they are the digest's, else it GETs the manifest. */
function carried(msg: CopyMessage): RawManifest | undefined {
  if (!msg.manifest) return undefined;
  try {
    return parseManifest(Buffer.from(msg.manifest, "base64"), msg.mediaType);
  } catch {
    return undefined;
  }
}
