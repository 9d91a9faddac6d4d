/**
 * The queues and table `ferry serve` runs on: fauxqs and dynalite in this process (loopback
 * only; dynalite journals its writes in `dataDir` when one is given, see journaled-dynamodb.ts), or
 * real endpoints/resources when the environment names them:
 *   FERRY_SQS_ENDPOINT, FERRY_DYNAMODB_ENDPOINT        other stand-ins (or AWS endpoints)
 *   FERRY_QUEUE_PLAN_URL/_COPY_URL/_MERGE_URL, FERRY_TABLE   existing resources (e.g. on AWS)
 */
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { withoutSdkLogging } from "../aws-sdk.ts";
import type { QueueName } from "../queue/messages.ts";
import { ensureTable } from "../state/dynamodb.ts";
import { startJournaledDynamo } from "./journaled-dynamodb.ts";

const require = createRequire(import.meta.url);

export interface Backends {
  sqs: SQSClient;
  ddb: DynamoDBClient;
  sqsEndpoint?: string;
  ddbEndpoint?: string;
  queues: Record<QueueName, string>;
  deadLetterQueues: Partial<Record<QueueName, string>>;
  table: string;
  /** "embedded" when fauxqs/dynalite run in this process. */
  kind: { sqs: "embedded" | "endpoint" | "aws"; dynamodb: "embedded" | "endpoint" | "aws" };
  stop(): Promise<void>;
}

export interface BackendOptions {
  maxReceiveCount: number;
  visibilityTimeout: number;
  /** Where the embedded DynamoDB keeps its journal; in memory only when undefined. */
  dataDir?: string;
  env?: NodeJS.ProcessEnv;
}

const LOCAL_CREDS = { accessKeyId: "ferrylocal", secretAccessKey: "ferrylocal" };

/**
 * The embedded stand-ins (fauxqs, dynalite, in this process on loopback) check that a request is
 * signed, not the signature: a fixed header instead of SigV4 saves the hashing and HMACs of
 * every call (about 4 % of `ferry serve`'s CPU under load). Endpoints named in the environment
 * and AWS itself are always signed.
 */
const EMBEDDED_SIGNER = {
  sign: async <R extends { headers: Record<string, string> }>(request: R): Promise<R> => {
    request.headers.authorization = "AWS4-HMAC-SHA256 Credential=ferrylocal/20200101/us-east-1/local/aws4_request, SignedHeaders=host, Signature=0";
    request.headers["x-amz-date"] = "20200101T000000Z";
    return request;
  },
};

type Stop = () => Promise<void>;

/** The SQS endpoint: configured, AWS itself (real queue URLs given), or fauxqs on loopback. */
async function sqsEndpointFor(env: NodeJS.ProcessEnv, realQueues: boolean, stops: Stop[]): Promise<{ endpoint?: string; kind: Backends["kind"]["sqs"] }> {
  if (env.FERRY_SQS_ENDPOINT) return { endpoint: env.FERRY_SQS_ENDPOINT, kind: "endpoint" };
  if (realQueues) return { kind: "aws" };
  const { buildApp } = (await import("fauxqs")) as typeof import("fauxqs");
  // buildApp + listen on 127.0.0.1: startFauxqs would listen on every interface.
  const app = buildApp({ logger: false, host: "127.0.0.1" });
  await app.listen({ port: 0, host: "127.0.0.1" });
  stops.push(() => app.close());
  return { endpoint: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, kind: "embedded" };
}

/** The DynamoDB endpoint: configured, AWS itself (a table named), journaled dynalite (a data dir), or in-memory dynalite. */
async function dynamoEndpointFor(
  env: NodeJS.ProcessEnv,
  dataDir: string | undefined,
  stops: Stop[],
): Promise<{ endpoint?: string; kind: Backends["kind"]["dynamodb"] }> {
  if (env.FERRY_DYNAMODB_ENDPOINT) return { endpoint: env.FERRY_DYNAMODB_ENDPOINT, kind: "endpoint" };
  if (env.FERRY_TABLE) return { kind: "aws" };
  if (dataDir) {
    // Durable: in-memory dynalite with a journal of its writes in the data directory.
    const store = await startJournaledDynamo(dataDir);
    stops.push(() => store.stop());
    return { endpoint: store.endpoint, kind: "embedded" };
  }
  const dynalite = require("dynalite") as (o: { createTableMs: number; updateTableMs: number }) => import("node:http").Server;
  const server = dynalite({ createTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  stops.push(() => new Promise<void>((r) => server.close(() => r())));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, kind: "embedded" };
}

/** The pipeline's queues, each with its dead-letter queue (created unless real queue URLs are given). */
async function queuesOf(sqs: SQSClient, env: NodeJS.ProcessEnv, opts: BackendOptions) {
  const queues = {} as Record<QueueName, string>;
  const deadLetterQueues: Partial<Record<QueueName, string>> = {};
  if (env.FERRY_QUEUE_PLAN_URL && env.FERRY_QUEUE_COPY_URL && env.FERRY_QUEUE_MERGE_URL) {
    return { queues: { plan: env.FERRY_QUEUE_PLAN_URL, copy: env.FERRY_QUEUE_COPY_URL, merge: env.FERRY_QUEUE_MERGE_URL }, deadLetterQueues };
  }
  for (const name of ["plan", "copy", "merge"] as const) {
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `ferry-${name}-dlq` }));
    const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }))).Attributes?.QueueArn;
    const q = await sqs.send(
      new CreateQueueCommand({
        QueueName: `ferry-${name}`,
        Attributes: {
          VisibilityTimeout: String(opts.visibilityTimeout),
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: opts.maxReceiveCount }),
        },
      }),
    );
    queues[name] = q.QueueUrl as string;
    deadLetterQueues[name] = dlq.QueueUrl as string;
  }
  return { queues, deadLetterQueues };
}

export async function startBackends(opts: BackendOptions): Promise<Backends> {
  const env = opts.env ?? process.env;
  const region = env.AWS_REGION ?? "us-east-1";
  const stops: Stop[] = [];
  const realQueues = Boolean(env.FERRY_QUEUE_PLAN_URL && env.FERRY_QUEUE_COPY_URL && env.FERRY_QUEUE_MERGE_URL);
  const sqsAt = await sqsEndpointFor(env, realQueues, stops);
  const ddbAt = await dynamoEndpointFor(env, opts.dataDir, stops);
  const local = (at: { endpoint?: string; kind: string }) =>
    at.endpoint ? { endpoint: at.endpoint, credentials: LOCAL_CREDS, ...(at.kind === "embedded" ? { signer: EMBEDDED_SIGNER } : {}) } : {};
  const sqs = withoutSdkLogging(new SQSClient({ region, ...local(sqsAt) }));
  const ddb = withoutSdkLogging(new DynamoDBClient({ region, ...local(ddbAt) }));
  const { queues, deadLetterQueues } = await queuesOf(sqs, env, opts);
  const table = env.FERRY_TABLE ?? "ferry";
  if (ddbAt.kind !== "aws") await ensureTable(ddb, table);
  return {
    sqs,
    ddb,
    ...(sqsAt.endpoint ? { sqsEndpoint: sqsAt.endpoint } : {}),
    ...(ddbAt.endpoint ? { ddbEndpoint: ddbAt.endpoint } : {}),
    queues,
    deadLetterQueues,
    table,
    kind: { sqs: sqsAt.kind, dynamodb: ddbAt.kind },
    async stop() {
      sqs.destroy();
      ddb.destroy();
      for (const s of stops.reverse()) await s();
    },
  };
}
