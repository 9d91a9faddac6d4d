/**
 * copy: copies one manifest by digest (with everything it references) into one destination,
 * records the task's outcome, and — when that completes the job's task set — enqueues the merge.
 * While it runs it records progress on the job, so the reconciler knows it is alive.
 */
import { errorRecord } from "../errors.ts";
import type { CopyMessage } from "../queue/messages.ts";
import type { CopyResult } from "../replicate/copy.ts";
import { CopySession } from "../replicate/copy-session.ts";
import type { ErrorRecord } from "../errors.ts";
import { FINAL_STATUSES } from "../state/store.ts";
import type { DeliveryInfo, PipelineDeps } from "./deps.ts";
import { heartbeat, reopenIfRedriven } from "./recovery.ts";
import { storeFor } from "./stores.ts";

export type CopyTaskStats = Pick<CopyResult, "blobs" | "bytes"> & { durationMs: number; outcome: "done" | "failed" | "skipped" };

const NOTHING: CopyTaskStats = { blobs: { copied: 0, skipped: 0, mounted: 0, foreignSkipped: 0 }, bytes: 0, durationMs: 0, outcome: "skipped" };

export async function runCopyTask(deps: PipelineDeps, msg: CopyMessage, d: DeliveryInfo): Promise<CopyTaskStats> {
  const started = Date.now();
  const job = await deps.store.getJob(msg.jobId);
  if (!job || (await reopenIfRedriven(deps, job)) || FINAL_STATUSES.includes(job.status)) return NOTHING;
  const session = new CopySession(storeFor(deps.registries, msg.source, "source"), storeFor(deps.registries, msg.destination, "destination"), {
    ...(d.deadline ? { deadline: d.deadline } : {}),
    ...(d.signal ? { signal: d.signal } : {}),
  });
  const fields = { jobId: msg.jobId, task: msg.taskId, src: msg.source, dst: msg.destination, digest: msg.digest, platform: msg.platform };
  const stopHeartbeat = heartbeat(deps, msg.jobId);
  let outcome: "done" | "failed" = "done";
  try {
    const desc = { mediaType: msg.mediaType, digest: msg.digest, size: msg.size };
    // A referrer's manifest is pushed by merge, after its subject; its blobs travel here.
    if (msg.contentOnly) await session.copyContent(desc, msg.platform);
    else await session.copyManifest(desc, msg.platform);
  } catch (e) {
    const error = errorRecord(e);
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
