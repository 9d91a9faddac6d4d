/**
 * The shared shape of the three queue consumers: a middy handler that processes an SQS batch
 * with Powertools' BatchProcessor (partial batch failures), parses each body with its zod schema,
 * and passes the Lambda's remaining time down as a deadline. Everything an invocation needs
 * (its processor, context and signal) lives in that invocation: overlapping invocations in one
 * process (`ferry serve`) never see each other's records.
 */
import middy from "@middy/core";
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import type { z } from "zod";
import { formatIssues } from "../lib/config.ts";
import { errorOf, FerryError } from "../lib/errors.ts";
import { ACTIVE_STATUSES } from "../lib/state/store.ts";
import { forInvocation, type HandlerContext, type Runtime, withMiddleware } from "./runtime.ts";

/** Stop this long before the Lambda's own timeout, to record outcomes cleanly. */
export const SAFETY_MARGIN_MS = 10_000;

export interface RecordContext {
  runtime: Runtime;
  record: SQSRecord;
  receiveCount: number;
  maxReceiveCount: number;
  deadline: number;
  signal: AbortSignal;
}

/**
 * Builds a consumer. A body that fails its schema is a poison message: it fails its record, and
 * on its last delivery its reason is recorded on the job (if the body names one) before the DLQ.
 */
export function sqsConsumer<S extends z.ZodType>(ctx: HandlerContext, schema: S, process: (msg: z.infer<S>, rc: RecordContext) => Promise<void>) {
  const recordHandler = (runtime: Runtime, context: Context, signal: AbortSignal) => async (record: SQSRecord) => {
    const log = runtime.deps.log;
    const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? 1);
    const maxReceiveCount = runtime.maxReceiveCount;
    let body: unknown;
    try {
      body = JSON.parse(record.body);
    } catch {
      body = undefined;
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const reason = `poison message ${record.messageId}: ${body === undefined ? "body is not JSON" : formatIssues(parsed.error.issues)}`;
      log.error(reason, { receiveCount });
      const jobId = (body as { jobId?: unknown } | undefined)?.jobId;
      if (typeof jobId === "string" && receiveCount >= maxReceiveCount) {
        await runtime.deps.store.updateJob(jobId, { status: "failed", error: errorOf("POISON_MESSAGE", reason) }, ACTIVE_STATUSES);
      }
      throw new FerryError("POISON_MESSAGE", reason);
    }
    const remaining = context.getRemainingTimeInMillis?.() ?? 900_000;
    try {
      await process(parsed.data, {
        runtime,
        record,
        receiveCount,
        maxReceiveCount,
        deadline: Date.now() + Math.max(1000, remaining - SAFETY_MARGIN_MS),
        signal,
      });
    } catch (e) {
      // The batch processor only reports the failure to SQS: say what it was.
      const jobId = (parsed.data as { jobId?: unknown }).jobId;
      log.error("record failed; SQS will deliver it again", { messageId: record.messageId, jobId, receiveCount, error: (e as Error).message });
      throw e;
    }
  };
  const handler = middy(async (event: SQSEvent, context: Context, opts?: { signal: AbortSignal }) => {
    const runtime = forInvocation(await ctx.runtime(), ctx, context);
    const processor = new BatchProcessor(EventType.SQS);
    const run = recordHandler(runtime, context, opts?.signal ?? new AbortController().signal);
    return processPartialResponse(event, run, processor, { context, throwOnFullBatchFailure: false });
  });
  return withMiddleware(handler, ctx);
}
