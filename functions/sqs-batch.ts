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
import { DeferredError, errorOf, FerryError } from "../lib/errors.ts";
import type { AnyMessage, QueueName } from "../lib/queue/messages.ts";
import { ACTIVE_STATUSES } from "../lib/state/store.ts";
import { forInvocation, type HandlerContext, type Runtime, withMiddleware } from "./runtime.ts";

/** The delay before a failed delivery's next try: 2, 4, 8, … seconds (±20 %), at most 5 minutes. */
export function retryDelaySeconds(receiveCount: number): number {
  const base = 2 ** Math.min(12, Math.max(1, receiveCount));
  return Math.max(1, Math.min(300, Math.round(base * (0.8 + Math.random() * 0.4))));
}

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
export function sqsConsumer<S extends z.ZodType>(
  ctx: HandlerContext,
  schema: S,
  process: (msg: z.infer<S>, rc: RecordContext) => Promise<void>,
  queue?: QueueName,
) {
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
      const jobId = (parsed.data as { jobId?: unknown }).jobId;
      if (queue && e instanceof DeferredError) {
        // Deferred, not failed: the same work comes back later as a new message (no delivery spent).
        await runtime.deps.queues.send(queue, [parsed.data as AnyMessage], { delaySeconds: e.delaySeconds });
        log.info("record deferred", { messageId: record.messageId, jobId, delaySeconds: e.delaySeconds, reason: e.message });
        return;
      }
      // The batch processor only reports the failure to SQS: say what it was.
      // A large blob paused before the deadline resumes at once; anything else waits a little longer each time.
      const delay = e instanceof FerryError && e.code === "RESUMABLE" ? 1 : retryDelaySeconds(receiveCount);
      log.error("record failed; SQS will deliver it again", {
        messageId: record.messageId,
        jobId,
        receiveCount,
        retryInSeconds: delay,
        error: (e as Error).message,
      });
      // Back after a short, growing delay rather than the whole visibility timeout (90 min for copy on AWS).
      if (queue && receiveCount < maxReceiveCount) {
        await runtime.deps.queues
          .retryLater(queue, record.receiptHandle, delay)
          .catch((x: unknown) => log.warn("could not shorten the retry delay", { error: String(x) }));
      }
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
