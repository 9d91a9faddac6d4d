/**
 * Built once per cold start from the environment: config, AWS clients, the job store, queues,
 * registry clients, Powertools logger and metrics. Every handler shares it.
 *
 *   FERRY_CONFIG_FILE or FERRY_CONFIG   the YAML config (a path, or the text itself)
 *   FERRY_TABLE                          DynamoDB table
 *   FERRY_QUEUE_PLAN_URL / _COPY_URL / _MERGE_URL
 *   FERRY_MAX_RECEIVE_COUNT              the queues' redrive maxReceiveCount (default 3)
 *   FERRY_SQS_ENDPOINT, FERRY_DYNAMODB_ENDPOINT   stand-ins (local); unset on AWS
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { ecrCredentials } from "../lib/registry/ecr-credentials.ts";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { type FerryConfig, loadConfigFile, parseConfigText } from "../lib/config.ts";
import { FerryError } from "../lib/errors.ts";
import type { PipelineDeps } from "../lib/pipeline/deps.ts";
import { poolFromConfig } from "../lib/pipeline/registries.ts";
import { SqsQueues } from "../lib/queue/sqs.ts";
import { DynamoJobStore } from "../lib/state/dynamodb.ts";

export const logger = new Logger({ serviceName: "ferry" });
export const metrics = new Metrics({ namespace: "ferry", serviceName: "ferry" });

export interface Runtime {
  deps: PipelineDeps;
  maxReceiveCount: number;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (!v) throw new FerryError("INVALID_CONFIG", `environment variable ${name} is required`);
  return v;
}

async function build(env: NodeJS.ProcessEnv): Promise<Runtime> {
  let config: FerryConfig;
  if (env.FERRY_CONFIG_FILE) config = await loadConfigFile(env.FERRY_CONFIG_FILE);
  else config = parseConfigText(required(env, "FERRY_CONFIG"), "FERRY_CONFIG");
  const region = env.AWS_REGION ?? "us-east-1";
  // Stand-ins accept any credentials; real AWS uses the function's role.
  const local = { credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID ?? "ferrylocal", secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? "ferrylocal" } };
  const sqs = new SQSClient({ region, ...(env.FERRY_SQS_ENDPOINT ? { endpoint: env.FERRY_SQS_ENDPOINT, ...local } : {}) });
  const ddb = new DynamoDBClient({ region, ...(env.FERRY_DYNAMODB_ENDPOINT ? { endpoint: env.FERRY_DYNAMODB_ENDPOINT, ...local } : {}) });
  // Secrets Manager: registry credentials (JSON {username, password}) and webhook secrets (a
  // string, or JSON {secret}). Fetched once per cold start; never logged.
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
  for (const hook of config.webhooks) {
    if (hook.secretArn && !hook.secret) {
      const raw = await secretValue(hook.secretArn);
      hook.secret = raw.trim().startsWith("{") ? ((JSON.parse(raw) as { secret?: string }).secret ?? raw) : raw;
    }
  }
  const deps: PipelineDeps = {
    config,
    store: new DynamoJobStore(ddb, { tableName: required(env, "FERRY_TABLE"), ttlDays: config.pipeline.jobTtlDays }),
    queues: new SqsQueues(sqs, {
      plan: required(env, "FERRY_QUEUE_PLAN_URL"),
      copy: required(env, "FERRY_QUEUE_COPY_URL"),
      merge: required(env, "FERRY_QUEUE_MERGE_URL"),
    }),
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
    ),
    log: {
      info: (m, f) => logger.info(m, f ?? {}),
      warn: (m, f) => logger.warn(m, f ?? {}),
      error: (m, f) => logger.error(m, f ?? {}),
    },
  };
  return { deps, maxReceiveCount: Number(env.FERRY_MAX_RECEIVE_COUNT ?? 3) };
}

let runtime: Promise<Runtime> | undefined;

/** The runtime, built on first use (environment read once). */
export function getRuntime(): Promise<Runtime> {
  runtime ??= build(process.env).catch((e: unknown) => {
    runtime = undefined;
    throw e;
  });
  return runtime;
}
