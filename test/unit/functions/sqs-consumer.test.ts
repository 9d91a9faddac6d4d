/**
 * The queue consumers keep everything per invocation: `ferry serve` runs several pollers into one
 * handler, so invocations overlap in one process. Each response must list exactly its own failed
 * records (a failure reported to the wrong invocation deletes a message that should come back).
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { Logger } from "@aws-lambda-powertools/logger";
import type { Context, SQSEvent } from "aws-lambda";
import { z } from "zod";
import { createRuntime, type HandlerContext, type Runtime } from "../../../functions/runtime.ts";
import { sqsConsumer } from "../../../functions/sqs-batch.ts";
import { parseConfig } from "../../../lib/config.ts";
import { FerryError } from "../../../lib/errors.ts";
import { localContext } from "../../../lib/local/lambda.ts";

const Body = z.object({ id: z.string(), fail: z.boolean(), delayMs: z.number() });
const record = (id: string, fail: boolean, delayMs: number) => ({
  messageId: id,
  receiptHandle: id,
  body: JSON.stringify({ id, fail, delayMs }),
  attributes: { ApproximateReceiveCount: "1", SentTimestamp: "0", SenderId: "t", ApproximateFirstReceiveTimestamp: "0" },
  messageAttributes: {},
  md5OfBody: "",
  eventSource: "aws:sqs",
  eventSourceARN: "arn:aws:sqs:local:000000000000:q",
  awsRegion: "local",
});

it("overlapping invocations of one consumer each report exactly their own failed records", async () => {
  const logger = new Logger({ serviceName: "test", logLevel: "SILENT" });
  const runtime: Runtime = await createRuntime(
    { config: parseConfig({ version: 1 }), table: "t", queues: { plan: "p", copy: "c", merge: "m" }, region: "us-east-1", env: {} },
    logger,
  );
  const ctx: HandlerContext = { runtime: async () => runtime, logger };
  const seen: string[] = [];
  const handler = sqsConsumer(ctx, Body, async (msg) => {
    await new Promise((r) => setTimeout(r, msg.delayMs));
    seen.push(msg.id);
    if (msg.fail) throw new FerryError("REGISTRY", `${msg.id} failed`, { retryable: true });
  });
  for (let trial = 0; trial < 20; trial++) {
    const rnd = () => Math.floor(Math.random() * 20);
    const a = [record(`a${trial}-ok`, false, rnd() + 10), record(`a${trial}-fail`, true, rnd())];
    const b = [record(`b${trial}-fail`, true, rnd() + 10), record(`b${trial}-ok`, false, rnd())];
    const context = localContext("ferry-test", 60_000) as unknown as Context;
    const [ra, rb] = await Promise.all([handler({ Records: a } as SQSEvent, context), handler({ Records: b } as SQSEvent, context)]);
    assert.deepEqual(
      ra?.batchItemFailures.map((f) => f.itemIdentifier),
      [`a${trial}-fail`],
      `trial ${trial}, invocation a`,
    );
    assert.deepEqual(
      rb?.batchItemFailures.map((f) => f.itemIdentifier),
      [`b${trial}-fail`],
      `trial ${trial}, invocation b`,
    );
  }
  assert.equal(seen.length, 80, "every record was processed");
});
