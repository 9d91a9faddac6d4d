/**
 * The one-machine runtime behind `ferry serve`: the same handlers as on AWS, an HTTP front on
 * 127.0.0.1, SQS pollers shaped like Lambda's event source mappings, and embedded stand-ins for
 * SQS and DynamoDB unless endpoints or resources are configured. Handlers are passed in (they
 * live in functions/), so lib/ stays free of Lambda code.
 */
import type { Server } from "node:http";
import { type FerryConfig, loadConfigFile } from "../config.ts";
import { type Backends, startBackends } from "./backends.ts";
import { startHttpFront } from "./http-front.ts";
import { type HttpHandler, type LocalContext, localContext, type SqsHandler } from "./lambda.ts";
import { SqsPoller } from "./poller.ts";

export interface LocalHandlers {
  api: HttpHandler;
  plan: SqsHandler;
  copy: SqsHandler;
  merge: SqsHandler;
  /** A rule's scheduled backfill (the EventBridge Scheduler target on AWS). */
  backfill?: (event: { rule: string }, context: LocalContext) => Promise<unknown>;
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
  /** Imports the handlers after the environment is set (they read it once, at "cold start"). */
  loadHandlers: () => Promise<LocalHandlers>;
  /** Powertools log level for the handlers (default WARN). */
  logLevel?: string;
  onError?: (e: unknown) => void;
}

export interface LocalServer {
  url: string;
  config: FerryConfig;
  backends: Backends;
  stop(): Promise<void>;
}

/** Lambda timeouts used locally, per function. */
const TIMEOUTS_MS = { plan: 60_000, copy: 900_000, merge: 120_000 };

export async function startLocal(opts: LocalOptions): Promise<LocalServer> {
  const config = await loadConfigFile(opts.configPath);
  const p = config.pipeline;
  // The SDK warns about Node 20's support ending (Jan 2027) when its first client is built;
  // Lambda runs Node 22. Said once in the README instead of on every start.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const backends = await startBackends({ maxReceiveCount: p.maxReceiveCount, visibilityTimeout: p.visibilityTimeout });
  const env: Record<string, string> = {
    FERRY_CONFIG_FILE: opts.configPath,
    FERRY_TABLE: backends.table,
    FERRY_QUEUE_PLAN_URL: backends.queues.plan,
    FERRY_QUEUE_COPY_URL: backends.queues.copy,
    FERRY_QUEUE_MERGE_URL: backends.queues.merge,
    FERRY_MAX_RECEIVE_COUNT: String(p.maxReceiveCount),
    POWERTOOLS_LOG_LEVEL: opts.logLevel ?? process.env.POWERTOOLS_LOG_LEVEL ?? "WARN",
    POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? "true",
  };
  if (backends.sqsEndpoint) env.FERRY_SQS_ENDPOINT = backends.sqsEndpoint;
  if (backends.ddbEndpoint) env.FERRY_DYNAMODB_ENDPOINT = backends.ddbEndpoint;
  Object.assign(process.env, env);
  const handlers = await opts.loadHandlers();
  const pollerBase = { sqs: backends.sqs, visibilityTimeout: p.visibilityTimeout, ...(opts.onError ? { onError: opts.onError } : {}) };
  const pollers = [
    new SqsPoller({ ...pollerBase, name: "plan", queueUrl: backends.queues.plan, handler: handlers.plan, batchSize: 5, concurrency: 2, functionTimeoutMs: TIMEOUTS_MS.plan }),
    new SqsPoller({ ...pollerBase, name: "copy", queueUrl: backends.queues.copy, handler: handlers.copy, batchSize: 1, concurrency: p.copyConcurrency, functionTimeoutMs: TIMEOUTS_MS.copy }),
    new SqsPoller({ ...pollerBase, name: "merge", queueUrl: backends.queues.merge, handler: handlers.merge, batchSize: 5, concurrency: 2, functionTimeoutMs: TIMEOUTS_MS.merge }),
  ];
  let http: { server: Server; url: string };
  try {
    http = await startHttpFront(handlers.api, opts.port ?? 0);
  } catch (e) {
    await backends.stop();
    throw e;
  }
  for (const poller of pollers) poller.start();
  // Backfill schedules: rate() runs here; cron() runs on AWS (EventBridge Scheduler).
  const timers: NodeJS.Timeout[] = [];
  for (const rule of config.rules) {
    const ms = rule.backfill ? rateMs(rule.backfill.schedule) : undefined;
    if (!ms || !handlers.backfill) continue;
    const run = handlers.backfill;
    const t = setInterval(() => {
      run({ rule: rule.name }, localContext("ferry-backfill", 900_000)).catch((e: unknown) => opts.onError?.(e));
    }, ms);
    t.unref();
    timers.push(t);
  }
  return {
    url: http.url,
    config,
    backends,
    async stop() {
      for (const t of timers) clearInterval(t);
      http.server.closeAllConnections();
      await new Promise<void>((r) => http.server.close(() => r()));
      await Promise.all(pollers.map((x) => x.stop()));
      await backends.stop();
    },
  };
}
