/**
 * A failed delivery comes back after a short, growing delay (ChangeMessageVisibility), not the
 * whole visibility timeout; the last delivery is left to the DLQ; deferred work (a spent rate
 * budget) comes back as a new delayed message and is not a failure.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { Logger } from "@aws-lambda-powertools/logger";
import type { Context, SQSEvent } from "aws-lambda";
import { z } from "zod";
import type { HandlerContext, Runtime } from "../../../functions/runtime.ts";
import { retryDelaySeconds, sqsConsumer } from "../../../functions/sqs-batch.ts";
import { parseConfig } from "../../../lib/config.ts";
import { DeferredError, FerryError } from "../../../lib/errors.ts";
import { localContext } from "../../../lib/local/lambda.ts";
import { noMetrics, silentLog } from "../../../lib/pipeline/deps.ts";
import { poolFromConfig } from "../../../lib/pipeline/registries.ts";
import type { AnyMessage, QueueName, QueuePort } from "../../../lib/queue/messages.ts";
import { MemoryJobStore } from "../../../lib/state/memory.ts";

class Queues implements QueuePort {
  readonly later: Array<{ queue: QueueName; handle: string; delay: number }> = [];
  readonly sent: Array<{ queue: QueueName; messages: AnyMessage[]; delay?: number }> = [];
  async send(queue: QueueName, messages: AnyMessage[], opts: { delaySeconds?: number } = {}): Promise<void> {
    this.sent.push({ queue, messages, ...(opts.delaySeconds !== undefined ? { delay: opts.delaySeconds } : {}) });
  }
  async backlog(): Promise<number> {
    return 0;
  }
  async retryLater(queue: QueueName, handle: string, delay: number): Promise<void> {
    this.later.push({ queue, handle, delay });
  }
}

const Body = z.object({ v: z.literal(1), kind: z.literal("merge"), jobId: z.string(), outcome: z.enum(["fail", "defer", "ok"]) });
const record = (id: string, outcome: string, receiveCount: number) => ({
  messageId: id,
  receiptHandle: `handle-${id}`,
  body: JSON.stringify({ v: 1, kind: "merge", jobId: id, outcome }),
  attributes: { ApproximateReceiveCount: String(receiveCount), SentTimestamp: "0", SenderId: "t", ApproximateFirstReceiveTimestamp: "0" },
  messageAttributes: {},
  md5OfBody: "",
  eventSource: "aws:sqs",
  eventSourceARN: "arn:aws:sqs:local:000000000000:ferry-merge",
  awsRegion: "local",
});

it("retries come back in 2, 4, 8 … seconds; the last delivery goes to the DLQ; deferred work is re-sent, not failed", async () => {
  const config = parseConfig({ version: 1, pipeline: { maxReceiveCount: 3 } });
  const queues = new Queues();
  const runtime: Runtime = {
    deps: { config, store: new MemoryJobStore(), queues, registries: poolFromConfig(config), log: silentLog },
    maxReceiveCount: 3,
    metrics: noMetrics,
  };
  const ctx: HandlerContext = { runtime: async () => runtime, logger: new Logger({ logLevel: "SILENT" }) };
  const handler = sqsConsumer(
    ctx,
    Body,
    async (msg) => {
      if (msg.outcome === "fail") throw new FerryError("REGISTRY", "503", { retryable: true });
      if (msg.outcome === "defer") throw new DeferredError("rate budget spent", 7);
    },
    "merge",
  );
  const event = { Records: [record("a", "fail", 1), record("b", "fail", 3), record("c", "defer", 2), record("d", "ok", 1)] } as SQSEvent;
  const res = await handler(event, localContext("ferry-merge", 60_000) as unknown as Context);
  assert.deepEqual(res?.batchItemFailures.map((f) => f.itemIdentifier).sort(), ["a", "b"]);
  assert.equal(queues.later.length, 1, "the last delivery (b) is left to the DLQ");
  assert.equal(queues.later[0]?.queue, "merge");
  assert.equal(queues.later[0]?.handle, "handle-a");
  assert.ok((queues.later[0]?.delay ?? 0) >= 1 && (queues.later[0]?.delay ?? 0) <= 3);
  assert.deepEqual(
    queues.sent.map((s) => [s.queue, s.delay, (s.messages[0] as { jobId: string }).jobId]),
    [["merge", 7, "c"]],
  );
  const grown = [1, 2, 3, 4, 8, 20].map((n) => retryDelaySeconds(n));
  assert.ok(grown[3]! >= 12 && grown[3]! <= 20 && grown[5]! <= 300, String(grown));
});
