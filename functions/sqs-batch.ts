/**
 * The shared shape of the three queue consumers: a middy handler that processes an SQS batch
 * with Powertools' BatchProcessor (partial batch failures), parses each body with its zod schema,
 * and passes the Lambda's remaining time down as a deadline.
 */
import middy from "@middy/core";
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import type { z } from "zod";
import { formatIssues } from "../lib/config.ts";
import { FerryError } from "../lib/errors.ts";
import { getRuntime, logger, metrics, type Runtime } from "./runtime.ts";

/** Stop this long before the Lambda's own timeout, to record outcomes cleanly. */
const SAFETY_MARGIN_MS = 10_000;

export interface RecordContext {
  runtime: Runtime;
  record: SQSRecord;
  receiveCount: number;
  deadline: number;
  signal: AbortSignal;
}

/**
 * Builds a consumer. A body that fails its schema is a poison message: it fails its record, and
 * on its last delivery `onPoison` records why on the job (if the body names one) before the DLQ.
 */
export function sqsConsumer<S extends z.ZodType>(
  schema: S,
  process: (msg: z.infer<S>, ctx: RecordContext) => Promise<void>,
  onPoison?: (jobId: string, reason: string, runtime: Runtime) => Promise<void>,
) {
  const processor = new BatchProcessor(EventType.SQS);
  let current: { context: Context; signal: AbortSignal } | undefined;
  const recordHandler = async (record: SQSRecord) => {
    const runtime = await getRuntime();
    const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? 1);
    let body: unknown;
    try {
      body = JSON.parse(record.body);
    } catch {
      body = undefined;
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const reason = `poison message ${record.messageId}: ${body === undefined ? "body is not JSON" : formatIssues(parsed.error.issues)}`;
      logger.error(reason, { receiveCount });
      const jobId = (body as { jobId?: unknown } | undefined)?.jobId;
      if (onPoison && typeof jobId === "string" && receiveCount >= runtime.maxReceiveCount) await onPoison(jobId, reason, runtime);
      throw new FerryError("INVALID_CONFIG", reason);
    }
    const remaining = current?.context.getRemainingTimeInMillis?.() ?? 900_000;
    try {
      await process(parsed.data, {
        runtime,
        record,
        receiveCount,
        deadline: Date.now() + Math.max(1000, remaining - SAFETY_MARGIN_MS),
        signal: current?.signal ?? new AbortController().signal,
      });
    } catch (e) {
      // The batch processor only reports the failure to SQS: say what it was.
      logger.error("record failed; SQS will deliver it again", { messageId: record.messageId, receiveCount, error: (e as Error).message });
      throw e;
    }
  };
  return middy(async (event: SQSEvent, context: Context, opts?: { signal: AbortSignal }) => {
    current = { context, signal: opts?.signal ?? new AbortController().signal };
    return processPartialResponse(event, recordHandler, processor, { context, throwOnFullBatchFailure: false });
  })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics));
}
