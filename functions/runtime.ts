/**
 * The composition root of the Lambda functions and of `ferry serve`: a {@link Runtime} (config,
 * AWS clients, the job store, queues, registry clients, log and metric sinks) built from explicit
 * {@link RuntimeSettings}. On Lambda the settings come from the environment, read once per cold
 * start (`lambda`); `ferry serve` passes them in (functions/local.ts) and sets no variables.
 *
 *   FERRY_CONFIG_FILE or FERRY_CONFIG   the YAML config (a path, or the text itself); a relative
 *                                        path is taken from LAMBDA_TASK_ROOT when that is set (the
 *                                        construct ships the config in the bundle: infra/config-asset.ts)
 *   FERRY_SECRET_ENV                     {"NAME": "<secret ARN>"}: the secrets behind the config's
 *                                        secretEnv/usernameEnv/passwordEnv/{env} names, read at cold
 *                                        start into the runtime's view of the environment (never process.env)
 *   FERRY_TABLE                          DynamoDB table
 *   FERRY_QUEUE_PLAN_URL / _COPY_URL / _MERGE_URL
 *   FERRY_DLQ_PLAN_URL / _COPY_URL / _MERGE_URL   the dead-letter queues (the API function only: the status page peeks them)
 *   FERRY_MAX_RECEIVE_COUNT              the queues' redrive maxReceiveCount (default 5)
 *   FERRY_STUCK_AFTER                    seconds without progress before the reconciler re-drives a
 *                                        job (the construct derives it from the queues' visibility)
 *   FERRY_SQS_ENDPOINT, FERRY_DYNAMODB_ENDPOINT   stand-ins (tests of the bundles); unset on AWS
 */
import { isAbsolute, join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import type { MiddyfiedHandler } from "@middy/core";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { withoutSdkLogging } from "../lib/aws-sdk.ts";
import { ecrCredentials } from "../lib/registry/ecr-credentials.ts";
import { type FerryConfig, loadConfigFile, parseConfigText } from "../lib/config.ts";
import { FerryError } from "../lib/errors.ts";
import type { Context } from "aws-lambda";
import { type Log, type MetricSink, noMetrics, type PipelineDeps } from "../lib/pipeline/deps.ts";
import { meteredStore } from "../lib/pipeline/job-metrics.ts";
import { notifyingStore } from "../lib/pipeline/notify.ts";
import { poolFromConfig } from "../lib/pipeline/registries.ts";
import type { QueueName } from "../lib/queue/messages.ts";
import { SqsQueues } from "../lib/queue/sqs.ts";
import { DynamoJobStore } from "../lib/state/dynamodb.ts";
import { sqsDeadLetters } from "../lib/ui/dead-letters.ts";

export interface Runtime {
  deps: PipelineDeps;
  maxReceiveCount: number;
  metrics: MetricSink;
}

/** Everything a runtime is built from. */
export interface RuntimeSettings {
  config: FerryConfig;
  table: string;
  queues: Record<QueueName, string>;
  /** The dead-letter queues the status page shows (read, never consumed); none when unknown. */
  deadLetterQueues?: Partial<Record<QueueName, string>>;
  region: string;
  /** Stand-in endpoints (local); unset on AWS. */
  sqsEndpoint?: string;
  ddbEndpoint?: string;
  /** Credentials for the stand-ins; unset on AWS (the function's role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Environment for `usernameEnv`/`passwordEnv`/`secretEnv` in the config. */
  env: NodeJS.ProcessEnv;
  /** On Lambda: names in `env` whose values are Secrets Manager secrets (ARN), read once when the runtime is built. */
  secretEnv?: Record<string, string>;
}

/** What every handler factory takes: the runtime (built lazily), the logger for its middleware, Powertools metrics on Lambda. */
export interface HandlerContext {
  runtime: () => Promise<Runtime>;
  logger: Logger;
  /** Invocations overlap in this process (`ferry serve`): nothing may be set per invocation on shared objects. */
  overlapping?: boolean;
  /** Powertools metrics, flushed per invocation (Lambda only). */
  powertoolsMetrics?: Metrics;
}

/** Builds a runtime; secrets and ECR tokens use AWS only when a config names them. */
export async function createRuntime(s: RuntimeSettings, logger: Logger, metrics: MetricSink = noMetrics): Promise<Runtime> {
  const { config, region } = s;
  const creds = s.credentials ? { credentials: s.credentials } : {};
  const sqs = withoutSdkLogging(new SQSClient({ region, ...(s.sqsEndpoint ? { endpoint: s.sqsEndpoint, ...creds } : {}) }));
  const ddb = withoutSdkLogging(new DynamoDBClient({ region, ...(s.ddbEndpoint ? { endpoint: s.ddbEndpoint, ...creds } : {}) }));
  // Secrets Manager: registry credentials (JSON {username, password}). Fetched once; never logged.
  let sm: SecretsManagerClient | undefined;
  const secretValue = async (arn: string): Promise<string> => {
    sm ??= new SecretsManagerClient({ region });
    const out = await sm.send(new GetSecretValueCommand({ SecretId: arn }));
    if (!out.SecretString) throw new FerryError("CREDENTIALS", `secret ${arn} has no string value`);
    return out.SecretString;
  };
  const resolveSecret = async (arn: string) => {
    const v = JSON.parse(await secretValue(arn)) as { username?: string; password?: string };
    if (!v.username || !v.password) throw new FerryError("CREDENTIALS", `secret ${arn} lacks username/password`);
    return { username: v.username, password: v.password };
  };
  const env = s.secretEnv ? { ...s.env, ...(await resolveSecretEnv(config, s.secretEnv, secretValue)) } : s.env;
  const store = new DynamoJobStore(ddb, { tableName: s.table, ttlDays: config.pipeline.jobTtlDays });
  const deps: PipelineDeps = {
    config,
    // Jobs' ends are reported where the config asks (notifications) and counted (metrics), whichever path ends them.
    store: notifyingStore(meteredStore(store, metrics), config, logOf(logger), env),
    queues: new SqsQueues(sqs, s.queues),
    // ECR hosts: tokens from GetAuthorizationToken with the function's role, cached.
    registries: poolFromConfig(
      config,
      env,
      resolveSecret,
      ecrCredentials(async (accountId, ecrRegion) => {
        const out = await new ECRClient({ region: ecrRegion }).send(new GetAuthorizationTokenCommand({ registryIds: [accountId] }));
        const d = out.authorizationData?.[0];
        if (!d?.authorizationToken || !d.expiresAt) throw new FerryError("CREDENTIALS", `no ECR token for account ${accountId}`);
        return { authorizationToken: d.authorizationToken, expiresAt: d.expiresAt };
      }),
      store,
    ),
    log: logOf(logger),
    ...(env ? { env } : {}),
    secretValue,
    ...(s.deadLetterQueues && Object.keys(s.deadLetterQueues).length > 0
      ? { deadLetters: sqsDeadLetters(sqs, s.deadLetterQueues as Record<string, string>) }
      : {}),
  };
  return { deps, maxReceiveCount: config.pipeline.maxReceiveCount, metrics };
}

/** The secrets behind environment variable names, by name (all read at once, in parallel). */
async function resolveSecretEnv(
  config: FerryConfig,
  arns: Record<string, string>,
  secretValue: (arn: string) => Promise<string>,
): Promise<Record<string, string>> {
  const values = Object.fromEntries(await Promise.all(Object.entries(arns).map(async ([name, arn]) => [name, await secretValue(arn)] as const)));
  // A webhook's secretEnv is looked up in process.env when a request is verified (lib/pipeline/http.ts),
  // which a function never writes: the value goes on the hook, as a secretArn's does.
  for (const hook of config.webhooks) {
    const v = hook.secretEnv ? values[hook.secretEnv] : undefined;
    if (v !== undefined && !hook.secret) hook.secret = v;
  }
  return values;
}

/** Powertools' logger as the pipeline's log sink. */
export function logOf(logger: Logger): Log {
  return {
    info: (m, f) => logger.info(m, f ?? {}),
    warn: (m, f) => logger.warn(m, f ?? {}),
    error: (m, f) => logger.error(m, f ?? {}),
  };
}

/**
 * One invocation's view of the runtime. On Lambda (one invocation at a time per process) the
 * shared logger carries the invocation's context (`withLambdaContext`). Where invocations overlap
 * (`ferry serve`), nothing shared is mutated: this invocation's log adds its function and request
 * id to each line itself, so overlapping handlers never label each other's lines.
 */
export function forInvocation(runtime: Runtime, ctx: HandlerContext, context: Context): Runtime {
  if (!ctx.overlapping) return runtime;
  const tag = { function_name: context.functionName, function_request_id: context.awsRequestId };
  const { logger } = ctx;
  const log: Log = {
    info: (m, f) => logger.info(m, { ...tag, ...f }),
    warn: (m, f) => logger.warn(m, { ...tag, ...f }),
    error: (m, f) => logger.error(m, { ...tag, ...f }),
  };
  return { ...runtime, deps: { ...runtime.deps, log } };
}

/**
 * The middleware every handler gets: Powertools' Lambda context on the shared logger where that
 * is safe (Lambda, one invocation at a time), and Powertools metrics flushed per invocation.
 */
export function withMiddleware<E, R>(handler: MiddyfiedHandler<E, R, Error, Context>, ctx: HandlerContext): MiddyfiedHandler<E, R, Error, Context> {
  if (!ctx.overlapping) handler.use(injectLambdaContext(ctx.logger, { resetKeys: true }));
  if (ctx.powertoolsMetrics) handler.use(logMetrics(ctx.powertoolsMetrics));
  return handler;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (!v) throw new FerryError("INVALID_CONFIG", `environment variable ${name} is required`);
  return v;
}

/** Lambda: the settings, from the environment. */
async function settingsFromEnv(env: NodeJS.ProcessEnv): Promise<RuntimeSettings> {
  const file = env.FERRY_CONFIG_FILE;
  const config = file
    ? await loadConfigFile(env.LAMBDA_TASK_ROOT && !isAbsolute(file) ? join(env.LAMBDA_TASK_ROOT, file) : file)
    : parseConfigText(required(env, "FERRY_CONFIG"), "FERRY_CONFIG");
  if (env.FERRY_MAX_RECEIVE_COUNT) config.pipeline.maxReceiveCount = Number(env.FERRY_MAX_RECEIVE_COUNT);
  if (env.FERRY_STUCK_AFTER && config.pipeline.stuckAfter === undefined) config.pipeline.stuckAfter = Number(env.FERRY_STUCK_AFTER);
  const standIn = env.FERRY_SQS_ENDPOINT || env.FERRY_DYNAMODB_ENDPOINT;
  return {
    config,
    table: required(env, "FERRY_TABLE"),
    queues: { plan: required(env, "FERRY_QUEUE_PLAN_URL"), copy: required(env, "FERRY_QUEUE_COPY_URL"), merge: required(env, "FERRY_QUEUE_MERGE_URL") },
    deadLetterQueues: deadLetterQueuesFrom(env),
    region: env.AWS_REGION ?? "us-east-1",
    ...(env.FERRY_SQS_ENDPOINT ? { sqsEndpoint: env.FERRY_SQS_ENDPOINT } : {}),
    ...(env.FERRY_DYNAMODB_ENDPOINT ? { ddbEndpoint: env.FERRY_DYNAMODB_ENDPOINT } : {}),
    ...(env.FERRY_SECRET_ENV ? { secretEnv: parseSecretEnv(env.FERRY_SECRET_ENV) } : {}),
    // Stand-ins accept any credentials; real AWS uses the function's role.
    ...(standIn ? { credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID ?? "ferrylocal", secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? "ferrylocal" } } : {}),
    env,
  };
}

/** FERRY_DLQ_*_URL: the dead-letter queues given to this function (the API function's, for the status page). */
function deadLetterQueuesFrom(env: NodeJS.ProcessEnv): Partial<Record<QueueName, string>> {
  const out: Partial<Record<QueueName, string>> = {};
  for (const name of ["plan", "copy", "merge"] as const) {
    const url = env[`FERRY_DLQ_${name.toUpperCase()}_URL`];
    if (url) out[name] = url;
  }
  return out;
}

/** FERRY_SECRET_ENV: a JSON object of secret ARNs by environment variable name. */
function parseSecretEnv(text: string): Record<string, string> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    v = undefined;
  }
  if (!v || typeof v !== "object" || Array.isArray(v) || !Object.values(v).every((a) => typeof a === "string")) {
    throw new FerryError("INVALID_CONFIG", "FERRY_SECRET_ENV: want a JSON object of secret ARNs by name");
  }
  return v as Record<string, string>;
}

const UNITS = { Count: MetricUnit.Count, Bytes: MetricUnit.Bytes, Milliseconds: MetricUnit.Milliseconds, Seconds: MetricUnit.Seconds };

/** Powertools metrics as a sink. */
export function powertoolsSink(m: Metrics): MetricSink {
  return { add: (name, unit, value) => m.addMetric(name, UNITS[unit], value) };
}

const lambdaLogger = new Logger({ serviceName: "ferry" });
const lambdaMetrics = new Metrics({ namespace: "ferry", serviceName: "ferry" });
let lambdaRuntime: Promise<Runtime> | undefined;

/** On Lambda: one runtime per execution environment, built on first use (environment read once). */
export const lambda: HandlerContext = {
  logger: lambdaLogger,
  powertoolsMetrics: lambdaMetrics,
  runtime() {
    lambdaRuntime ??= settingsFromEnv(process.env)
      .then((s) => createRuntime(s, lambdaLogger, powertoolsSink(lambdaMetrics)))
      .catch((e: unknown) => {
        lambdaRuntime = undefined;
        throw e;
      });
    return lambdaRuntime;
  },
};
