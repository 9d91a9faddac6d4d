/**
 * Drives a bundled copy handler (from cdk.out) with a real SQS batch: registries, fauxqs and
 * dynalite are started here; a job with one task is recorded; the message is sent to the copy
 * queue, received, and handed to the handler as Lambda would.
 */
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { localContext } from "../../lib/local/lambda.ts";
import { DynamoJobStore, ensureTable } from "../../lib/state/dynamodb.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { startDistribution } from "./distribution.ts";
import { startDynalite } from "./dynamo.ts";
import { pushImage, randomIndex } from "./images.ts";

/** A received SQS message as the Lambda event source hands it over. */
function lambdaRecord(
  m: { MessageId?: string; ReceiptHandle?: string; Body?: string; MD5OfBody?: string; Attributes?: Record<string, string> },
  queue: string,
) {
  return {
    messageId: m.MessageId ?? "",
    receiptHandle: m.ReceiptHandle ?? "",
    body: m.Body ?? "",
    attributes: {
      ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? "1",
      SentTimestamp: "0",
      SenderId: "x",
      ApproximateFirstReceiveTimestamp: "0",
    },
    messageAttributes: {},
    md5OfBody: m.MD5OfBody ?? "",
    eventSource: "aws:sqs",
    eventSourceARN: `arn:aws:sqs:us-east-1:123456789012:${queue}`,
    awsRegion: "us-east-1",
  };
}

/** The environment a bundled function reads at its cold start, pointed at the stand-ins. */
function standInEnv(config: string, table: string, urls: Record<string, string>, sqsEndpoint: string, ddbEndpoint: string): void {
  Object.assign(process.env, {
    FERRY_CONFIG: config,
    FERRY_TABLE: table,
    FERRY_QUEUE_PLAN_URL: urls.plan,
    FERRY_QUEUE_COPY_URL: urls.copy,
    FERRY_QUEUE_MERGE_URL: urls.merge,
    FERRY_SQS_ENDPOINT: sqsEndpoint,
    FERRY_DYNAMODB_ENDPOINT: ddbEndpoint,
    POWERTOOLS_METRICS_DISABLED: "true",
    POWERTOOLS_LOG_LEVEL: "ERROR",
    AWS_REGION: "us-east-1",
  });
}

/** fauxqs on 127.0.0.1 with a client; `queues(prefix)` creates the plan, copy and merge queues. */
async function startQueues() {
  const { buildApp } = await import("fauxqs");
  const app = buildApp({ logger: false, host: "127.0.0.1" });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const endpoint = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const sqs = new SQSClient({ region: "us-east-1", endpoint, credentials: { accessKeyId: "x", secretAccessKey: "x" } });
  const queues = async (prefix: string) => {
    const urls: Record<string, string> = {};
    for (const q of ["plan", "copy", "merge"]) urls[q] = (await sqs.send(new CreateQueueCommand({ QueueName: `${prefix}-${q}` }))).QueueUrl as string;
    return urls;
  };
  const stop = async () => {
    sqs.destroy();
    await app.close();
  };
  return { sqs, endpoint, queues, stop };
}

export async function runBundledCopy(bundlePath: string): Promise<void> {
  const [src, dst, ddb] = await Promise.all([startDistribution(), startDistribution(), startDynalite()]);
  const { sqs, endpoint, queues, stop: stopQueues } = await startQueues();
  try {
    const image = randomIndex({ platforms: 2, seed: "bundled" });
    const srcClient = new RegistryClient({ host: src.host });
    await pushImage(srcClient, "b/app", "v1", image);
    await srcClient.close();
    const child = JSON.parse(image.bytes.toString()).manifests[0] as { digest: string; mediaType: string; size: number };
    const urls = await queues("b");
    await ensureTable(ddb.client, "bundled");
    const store = new DynamoJobStore(ddb.client, { tableName: "bundled" });
    await store.createJob({
      id: "job1",
      request: { source: `${src.host}/b/app:v1`, destinations: [`${dst.host}/b/app`], trigger: "api", eventTime: new Date().toISOString() },
    });
    await store.putTasks("job1", [
      {
        id: "t1",
        platform: "linux/amd64",
        digest: child.digest,
        mediaType: child.mediaType,
        size: child.size,
        destination: `${dst.host}/b/app`,
        state: "pending",
      },
    ]);
    await store.updateJob("job1", { status: "copying", taskCount: 1 });

    standInEnv("version: 1\n", "bundled", urls, endpoint, ddb.endpoint);
    const msg = {
      v: 1,
      kind: "copy",
      jobId: "job1",
      taskId: "t1",
      source: `${src.host}/b/app`,
      destination: `${dst.host}/b/app`,
      digest: child.digest,
      mediaType: child.mediaType,
      size: child.size,
      platform: "linux/amd64",
    };
    await sqs.send(new SendMessageCommand({ QueueUrl: urls.copy, MessageBody: JSON.stringify(msg) }));
    await sqs.send(new SendMessageCommand({ QueueUrl: urls.copy, MessageBody: JSON.stringify({ v: 1, kind: "copy", bogus: true }) }));
    const got = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: urls.copy, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ["All"] }),
    );
    const records = (got.Messages ?? []).map((m) => lambdaRecord(m, "b-copy"));
    assert.equal(records.length, 2);
    const mod = (await import(bundlePath)) as { handler: (e: unknown, c: unknown) => Promise<{ batchItemFailures: Array<{ itemIdentifier: string }> }> };
    const res = await mod.handler({ Records: records }, localContext("ferry-copy", 60_000));
    const bad = records.find((r) => r.body.includes("bogus"))?.messageId;
    assert.deepEqual(res.batchItemFailures, [{ itemIdentifier: bad }], "only the malformed record fails");
    const dstClient = new RegistryClient({ host: dst.host });
    assert.ok(await dstClient.manifestHead("b/app", child.digest), "the child manifest landed");
    await dstClient.close();
    const job = await store.getJob("job1", { withTasks: true });
    assert.equal(job?.tasks?.[0]?.state, "done");
    const merge = await sqs.send(new ReceiveMessageCommand({ QueueUrl: urls.merge, WaitTimeSeconds: 1 }));
    assert.equal(JSON.parse(merge.Messages?.[0]?.Body ?? "{}").jobId, "job1", "completing the task set queued the merge");
  } finally {
    await stopQueues();
    await Promise.all([src.stop(), dst.stop(), ddb.stop()]);
  }
}

/**
 * A large layer through the bundled copy handler, invoked as Lambda would with too little time
 * for it (25 s a call, about 5 s of transfer) and a throttled source: it completes over several
 * deliveries, each resuming where the last stopped. Resolves to the figures.
 */
export async function runBundledResumableCopy(bundlePath: string, size = 48 * 1024 * 1024): Promise<{ invocations: number; read: number; size: number }> {
  const { startThrottleProxy } = await import("./throttle-proxy.ts");
  const { randomImage } = await import("./images.ts");
  const [src, dst, ddb] = await Promise.all([startDistribution(), startDistribution(), startDynalite()]);
  const proxy = await startThrottleProxy(src.host, 6 * 1024 * 1024);
  const { sqs, endpoint, queues, stop: stopQueues } = await startQueues();
  try {
    const image = randomImage({ layers: 1, layerSize: size, seed: "bundled-resume" });
    const srcClient = new RegistryClient({ host: src.host });
    await pushImage(srcClient, "r/app", "v1", image);
    await srcClient.close();
    const urls = await queues("r");
    await ensureTable(ddb.client, "resume");
    const store = new DynamoJobStore(ddb.client, { tableName: "resume" });
    const request = { source: `${proxy.host}/r/app:v1`, destinations: [`${dst.host}/r/app`], trigger: "api" as const, eventTime: new Date().toISOString() };
    await store.createJob({ id: "job1", request });
    const task = { id: "t1", platform: "linux/amd64", digest: image.digest, mediaType: image.mediaType, size: image.bytes.byteLength };
    await store.putTasks("job1", [{ ...task, destination: `${dst.host}/r/app`, state: "pending" }]);
    await store.updateJob("job1", { status: "copying", taskCount: 1 });
    standInEnv(
      `version: 1\nregistries: [{ host: "${proxy.host}", plainHttp: true }]\npipeline: { resumeAboveBytes: 16777216 }\n`,
      "resume",
      urls,
      endpoint,
      ddb.endpoint,
    );
    const msg = { v: 1, kind: "copy", jobId: "job1", taskId: "t1", source: `${proxy.host}/r/app`, destination: `${dst.host}/r/app`, ...task };
    await sqs.send(new SendMessageCommand({ QueueUrl: urls.copy, MessageBody: JSON.stringify(msg) }));
    // A fresh module: its cold start reads this environment, not the first test's.
    const mod = (await import(`${bundlePath}?resume`)) as { handler: (e: unknown, c: unknown) => Promise<{ batchItemFailures: unknown[] }> };
    let invocations = 0;
    for (let i = 0; i < 20; i++) {
      const got = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: urls.copy, MaxNumberOfMessages: 1, WaitTimeSeconds: 5, MessageSystemAttributeNames: ["All"] }),
      );
      const m = got.Messages?.[0];
      if (!m) continue;
      const record = lambdaRecord(m, "r-copy");
      invocations++;
      const res = await mod.handler({ Records: [record] }, localContext("ferry-copy", 25_000));
      if (res.batchItemFailures.length === 0) break;
    }
    const job = await store.getJob("job1", { withTasks: true });
    assert.equal(job?.tasks?.[0]?.state, "done", JSON.stringify(job?.tasks));
    const dstClient = new RegistryClient({ host: dst.host });
    assert.equal((await dstClient.manifestHead("r/app", image.digest))?.digest, image.digest);
    await dstClient.close();
    return { invocations, read: proxy.blobBytes(), size };
  } finally {
    await stopQueues();
    await proxy.stop();
    await Promise.all([src.stop(), dst.stop(), ddb.stop()]);
  }
}
