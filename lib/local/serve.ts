/**
 * The one-machine runtime behind `ferry serve`: the same handlers as on AWS, an HTTP front on
 * 127.0.0.1, SQS pollers shaped like Lambda's event source mappings, embedded stand-ins for
 * SQS and DynamoDB unless endpoints or resources are configured, and the reconciler at start-up
 * and on a timer. Handlers are passed in (they live in functions/), so lib/ stays free of Lambda
 * code; they get their settings as a value, never through process.env.
 *
 * Durable by default: the embedded DynamoDB journals its writes in `dataDir`. The embedded SQS is
 * memory only, so after a restart the reconciler re-derives every unfinished job's pending work
 * from the store and sends it again.
 */
import type { Server } from "node:http";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type FerryConfig, loadConfigFile } from "../config.ts";
import type { MetricSink } from "../pipeline/deps.ts";
import type { QueueName } from "../queue/messages.ts";
import { DynamoJobStore } from "../state/dynamodb.ts";
import type { JobStore } from "../state/store.ts";
import { type Backends, startBackends } from "./backends.ts";
import { lockDataDir } from "./data-dir.ts";
import { startHttpFront } from "./http-front.ts";
import { metricQueues } from "./metrics-gauges.ts";
import { createServeMetrics, metricsRoute, type ServeMetrics } from "./metrics.ts";
import { type HttpHandler, type LocalContext, localContext, type SqsHandler } from "./lambda.ts";
import { SqsPoller } from "./poller.ts";

export interface LocalHandlers {
  api: HttpHandler;
  plan: SqsHandler;
  copy: SqsHandler;
  merge: SqsHandler;
  /** A rule's scheduled backfill (the EventBridge Scheduler target on AWS). */
  backfill?: (event: { rule: string }, context: LocalContext) => Promise<unknown>;
  /** The reconciler (a schedule on AWS). */
  reconcile: (event: { startup?: boolean }, context: LocalContext) => Promise<unknown>;
}

/** What the handlers are built from: explicit values, never process.env. */
export interface LocalRuntimeSettings {
  config: FerryConfig;
  table: string;
  queues: Record<QueueName, string>;
  /** The dead-letter queues, which the status page peeks. */
  deadLetterQueues?: Partial<Record<QueueName, string>>;
  sqsEndpoint?: string;
  ddbEndpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Where `usernameEnv`/`passwordEnv`/`secretEnv` in the config are looked up. */
  env: NodeJS.ProcessEnv;
  logLevel?: string;
  metrics?: MetricSink;
}

/** Milliseconds of a `rate(N unit)` schedule; undefined for `cron(…)` (left to AWS). */
export function rateMs(schedule: string): number | undefined {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(schedule);
  if (!m) return undefined;
  const unit = m[2]?.startsWith("minute") ? 60_000 : m[2]?.startsWith("hour") ? 3_600_000 : 86_400_000;
  return Number(m[1]) * unit;
}

export interface LocalOptions {
  configPath: string;
  port?: number;
  /** Where state is kept (the embedded DynamoDB's files); `false` keeps it in memory. */
  dataDir: string | false;
  /** Builds the handlers from explicit settings. */
  loadHandlers: (settings: LocalRuntimeSettings) => Promise<LocalHandlers>;
  /** Powertools log level for the handlers (default WARN). */
  logLevel?: string;
  /** Where FERRY_* overrides and config secrets are read (default: process.env, read once here). */
  env?: NodeJS.ProcessEnv;
  onError?: (e: unknown) => void;
}

export interface LocalServer {
  url: string;
  config: FerryConfig;
  backends: Backends;
  /** The job store the handlers use (tests and operators read it directly). */
  store: JobStore;
  /** Runs one reconciler pass now (tests, and the operator's `ferry serve` timer). */
  reconcile(): Promise<unknown>;
  stop(): Promise<void>;
}

/** Lambda timeouts used locally, per function. */
const TIMEOUTS_MS = { plan: 60_000, merge: 120_000 };
const LOCAL_CREDS = { accessKeyId: "ferrylocal", secretAccessKey: "ferrylocal" };

/** Takes the data directory (its lock and the embedded DynamoDB's folder) and starts the backends on it. */
async function backendsFor(opts: LocalOptions, config: FerryConfig, env: NodeJS.ProcessEnv): Promise<{ backends: Backends; unlock?: () => void }> {
  const p = config.pipeline;
  let unlock: (() => void) | undefined;
  let dbDir: string | undefined;
  // The data directory holds the embedded DynamoDB; with another DynamoDB it is not used.
  if (opts.dataDir && !env.FERRY_DYNAMODB_ENDPOINT && !env.FERRY_TABLE) {
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    unlock = lockDataDir(opts.dataDir);
    dbDir = join(opts.dataDir, "dynamodb");
    mkdirSync(dbDir, { recursive: true, mode: 0o700 });
  }
  try {
    const backends = await startBackends({
      maxReceiveCount: p.maxReceiveCount,
      visibilityTimeout: p.visibilityTimeout,
      env,
      ...(dbDir ? { dataDir: dbDir } : {}),
    });
    return { backends, ...(unlock ? { unlock } : {}) };
  } catch (e) {
    unlock?.();
    throw e;
  }
}

/** One SQS poller per pipeline queue, sized like the Lambda event source mappings. */
function pollersFor(backends: Backends, handlers: LocalHandlers, p: FerryConfig["pipeline"], onError?: (e: unknown) => void): SqsPoller[] {
  const base = { sqs: backends.sqs, visibilityTimeout: p.visibilityTimeout, ...(onError ? { onError } : {}) };
  return [
    new SqsPoller({
      ...base,
      name: "plan",
      queueUrl: backends.queues.plan,
      handler: handlers.plan,
      batchSize: 5,
      concurrency: 2,
      functionTimeoutMs: TIMEOUTS_MS.plan,
    }),
    new SqsPoller({
      ...base,
      name: "copy",
      queueUrl: backends.queues.copy,
      handler: handlers.copy,
      batchSize: 1,
      concurrency: p.copyConcurrency,
      functionTimeoutMs: p.copyTimeout * 1000,
    }),
    new SqsPoller({
      ...base,
      name: "merge",
      queueUrl: backends.queues.merge,
      handler: handlers.merge,
      batchSize: 5,
      concurrency: 2,
      functionTimeoutMs: TIMEOUTS_MS.merge,
    }),
  ];
}

/** Backfill schedules: rate() runs here; cron() runs on AWS (EventBridge Scheduler). */
function backfillTimers(config: FerryConfig, handlers: LocalHandlers, onError?: (e: unknown) => void): NodeJS.Timeout[] {
  const timers: NodeJS.Timeout[] = [];
  for (const rule of config.rules) {
    const ms = rule.backfill ? rateMs(rule.backfill.schedule) : undefined;
    if (!ms || !handlers.backfill) continue;
    const run = handlers.backfill;
    const t = setInterval(() => {
      run({ rule: rule.name }, localContext("ferry-backfill", 900_000)).catch((e: unknown) => onError?.(e));
    }, ms);
    t.unref();
    timers.push(t);
  }
  return timers;
}

/**
 * The job store `ferry serve` hands out, and its metrics for GET /metrics: what the handlers report
 * (CloudWatch's figures on AWS), and the queues and the oldest unfinished job read when scraped.
 */
function storeAndMetrics(backends: Backends, p: FerryConfig["pipeline"]): { store: JobStore; metrics: ServeMetrics } {
  const store = new DynamoJobStore(backends.ddb, { tableName: backends.table, ttlDays: p.jobTtlDays });
  return { store, metrics: createServeMetrics({ sqs: backends.sqs, queues: metricQueues(backends), store }) };
}

export async function startLocal(opts: LocalOptions): Promise<LocalServer> {
  const config = await loadConfigFile(opts.configPath);
  const env = opts.env ?? process.env;
  const p = config.pipeline;
  const { backends, unlock } = await backendsFor(opts, config, env);
  const { store, metrics } = storeAndMetrics(backends, p);
  const handlers = await opts.loadHandlers({
    config,
    table: backends.table,
    queues: backends.queues,
    deadLetterQueues: backends.deadLetterQueues,
    ...(backends.sqsEndpoint ? { sqsEndpoint: backends.sqsEndpoint } : {}),
    ...(backends.ddbEndpoint ? { ddbEndpoint: backends.ddbEndpoint } : {}),
    ...(backends.sqsEndpoint || backends.ddbEndpoint ? { credentials: LOCAL_CREDS } : {}),
    env,
    logLevel: opts.logLevel ?? "WARN",
    metrics: metrics.sink,
  });
  const pollers = pollersFor(backends, handlers, p, opts.onError);
  let http: { server: Server; url: string };
  try {
    http = await startHttpFront(handlers.api, opts.port ?? 0, { "/metrics": metricsRoute(metrics, config.api, env) });
  } catch (e) {
    await backends.stop();
    unlock?.();
    throw e;
  }
  const reconcile = (startup = false) => handlers.reconcile({ startup }, localContext("ferry-reconcile", 300_000));
  // The embedded SQS starts empty: every job not yet final gets its pending work again.
  await reconcile(backends.kind.sqs === "embedded").catch((e: unknown) => opts.onError?.(e));
  for (const poller of pollers) poller.start();
  let reconciling: Promise<unknown> | undefined;
  const tick = setInterval(() => {
    reconciling ??= reconcile()
      .catch((e: unknown) => opts.onError?.(e))
      .finally(() => {
        reconciling = undefined;
      });
  }, p.reconcileEvery * 1000);
  tick.unref();
  const timers = [tick, ...backfillTimers(config, handlers, opts.onError)];
  return {
    url: http.url,
    config,
    backends,
    store,
    reconcile: () => reconcile(),
    async stop() {
      for (const t of timers) clearInterval(t);
      http.server.closeAllConnections();
      await new Promise<void>((r) => http.server.close(() => r()));
      await Promise.all(pollers.map((x) => x.stop()));
      await reconciling;
      await backends.stop();
      unlock?.();
    },
  };
}
