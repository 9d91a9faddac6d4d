/**
 * The reconciler's period and the alarm thresholds, derived from the config so that an alarm
 * fires only when the pipeline cannot fix something on its own. Pure functions, so each one is
 * tested with plain numbers.
 */
import type { FerryConfig } from "../lib/config.ts";

type Pipeline = FerryConfig["pipeline"];

/** The reconciler's rate in whole minutes: `reconcileEvery` rounded up, at least 1 (EventBridge Scheduler's finest rate). */
export function reconcileRateMinutes(pipeline: Pipeline): number {
  return Math.max(1, Math.ceil(pipeline.reconcileEvery / 60));
}

/**
 * Seconds without progress before the reconciler re-drives a job on AWS: `stuckAfter` when set,
 * else 2 × the longest queue visibility timeout. Work in progress records heartbeats, so the
 * only silent wait is a failed message waiting out its visibility before SQS delivers it again;
 * re-driving sooner would only race SQS's own retries. The functions get it as FERRY_STUCK_AFTER.
 */
export function stuckAfterSeconds(pipeline: Pipeline, longestVisibilitySeconds: number): number {
  return pipeline.stuckAfter ?? 2 * longestVisibilitySeconds;
}

/**
 * `oldestActiveJobAgeSeconds` above this means a job outlived both bounds below, so the reconciler
 * is not doing its job (or a job is far larger than one wave of copies):
 * - stuck: a job that stops moving is noticed at most one pass after `stuckAfter`, re-driven
 *   `maxRedrives` times, then failed: (maxRedrives + 1) × (stuckAfter + period);
 * - healthy: a job that keeps moving may take its stages' longest runs (plan + copy + merge timeouts).
 * One more period covers the metric itself, which is one pass old at worst.
 */
export function oldestActiveJobAgeThreshold(pipeline: Pipeline, healthyJobSeconds: number, stuckAfter: number): number {
  const period = reconcileRateMinutes(pipeline) * 60;
  const stuck = (pipeline.maxRedrives + 1) * (stuckAfter + period);
  return Math.max(stuck, healthyJobSeconds) + period;
}

/**
 * `ApproximateAgeOfOldestMessage` above this means a message waited without being received: one that
 * is received and fails comes back after the visibility timeout, and after `maxReceiveCount`
 * receives it is in the DLQ, so no message still within its retries is older than this.
 */
export function oldestMessageAgeThreshold(visibilityTimeoutSeconds: number, maxReceiveCount: number): number {
  return visibilityTimeoutSeconds * maxReceiveCount;
}
