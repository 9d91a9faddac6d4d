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

export async function startBackends(opts: BackendOptions): Promise<Backends> {
  const env = opts.env ?? process.env;
  const region = env.AWS_REGION ?? "us-east-1";
  const stops: Array<() => Promise<void>> = [];
  const realQueues = env.FERRY_QUEUE_PLAN_URL && env.FERRY_QUEUE_COPY_URL && env.FERRY_QUEUE_MERGE_URL;

  let sqsEndpoint = env.FERRY_SQS_ENDPOINT;
  let sqsKind: Backends["kind"]["sqs"] = sqsEndpoint ? "endpoint" : "aws";
  if (!sqsEndpoint && !realQueues) {
    const { buildApp } = (await import("fauxqs")) as typeof import("fauxqs");
    // buildApp + listen on 127.0.0.1: startFauxqs would listen on every interface.
    const app = buildApp({ logger: false, host: "127.0.0.1" });
    await app.listen({ port: 0, host: "127.0.0.1" });
    sqsEndpoint = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    sqsKind = "embedded";
    stops.push(() => app.close());
  }
  let ddbEndpoint = env.FERRY_DYNAMODB_ENDPOINT;
  let ddbKind: Backends["kind"]["dynamodb"] = ddbEndpoint ? "endpoint" : "aws";
  if (!ddbEndpoint && !env.FERRY_TABLE) {
    if (opts.dataDir) {
      // Durable: in-memory dynalite with a journal of its writes in the data directory.
      const store = await startJournaledDynamo(opts.dataDir);
      ddbEndpoint = store.endpoint;
      stops.push(() => store.stop());
    } else {
      const dynalite = require("dynalite") as (o: { createTableMs: number; updateTableMs: number }) => import("node:http").Server;
      const server = dynalite({ createTableMs: 0, updateTableMs: 0 });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
      ddbEndpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      stops.push(() => new Promise<void>((r) => server.close(() => r())));
    }
    ddbKind = "embedded";
  }
  const sqs = new SQSClient({ region, ...(sqsEndpoint ? { endpoint: sqsEndpoint, credentials: LOCAL_CREDS } : {}) });
  const ddb = new DynamoDBClient({ region, ...(ddbEndpoint ? { endpoint: ddbEndpoint, credentials: LOCAL_CREDS } : {}) });

  const queues = {} as Record<QueueName, string>;
  const deadLetterQueues: Partial<Record<QueueName, string>> = {};
  if (realQueues) {
    queues.plan = env.FERRY_QUEUE_PLAN_URL as string;
    queues.copy = env.FERRY_QUEUE_COPY_URL as string;
    queues.merge = env.FERRY_QUEUE_MERGE_URL as string;
  } else {
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
  }
  const table = env.FERRY_TABLE ?? "ferry";
  if (ddbKind !== "aws") await ensureTable(ddb, table);
  return {
    sqs,
    ddb,
    ...(sqsEndpoint ? { sqsEndpoint } : {}),
    ...(ddbEndpoint ? { ddbEndpoint } : {}),
    queues,
    deadLetterQueues,
    table,
    kind: { sqs: sqsKind, dynamodb: ddbKind },
    async stop() {
      sqs.destroy();
      ddb.destroy();
      for (const s of stops.reverse()) await s();
    },
  };
}
