/** What the pipeline's use-cases need, built once per process (a Lambda cold start, `ferry serve`). */
import type { FerryConfig } from "../config.ts";
import type { QueuePort } from "../queue/messages.ts";
import type { RegistryPool } from "../registry/pool.ts";
import type { JobStore } from "../state/store.ts";
import type { DeadLetterReader } from "../ui/dead-letters.ts";

/** A structured log sink; functions/ passes Powertools' logger. */
export interface Log {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface PipelineDeps {
  config: FerryConfig;
  store: JobStore;
  queues: QueuePort;
  registries: RegistryPool;
  log: Log;
  /** Where keys named by environment variable are read (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Reads a Secrets Manager secret's string (AWS only). */
  secretValue?: (arn: string) => Promise<string>;
  /** The dead-letter queues, read without consuming them (the status page); absent where unknown. */
  deadLetters?: DeadLetterReader;
}

/** Metrics that go nowhere (`ferry serve`, tests). */
export const noMetrics: MetricSink = { add() {} };

/** Where a queue delivery stands: its attempt number, the limit before the DLQ, its time. */
export interface DeliveryInfo {
  receiveCount: number;
  maxReceiveCount: number;
  /** Epoch ms by which the work must have recorded its outcome. */
  deadline?: number;
  signal?: AbortSignal;
}

/**
 * Counters and timings for the dashboard: CloudWatch through Powertools on AWS, Prometheus under
 * `ferry serve` (lib/local/metrics.ts); a no-op where none is wanted. `labels` break a figure down
 * (a failed job's code): Prometheus keeps them, CloudWatch sums over them.
 */
export interface MetricSink {
  add(name: string, unit: "Count" | "Bytes" | "Milliseconds" | "Seconds", value: number, labels?: Readonly<Record<string, string>>): void;
}

/** A log that drops everything (tests). */
export const silentLog: Log = { info() {}, warn() {}, error() {} };
