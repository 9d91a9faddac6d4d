/** Lambda: merge queue consumer. Pushes the index and moves the tags, once per job. */
import { runMerge } from "../lib/pipeline/merge.ts";
import { MergeMessageSchema } from "../lib/queue/messages.ts";
import { type HandlerContext, lambda } from "./runtime.ts";
import { sqsConsumer } from "./sqs-batch.ts";

export const createMergeHandler = (ctx: HandlerContext) =>
  sqsConsumer(
    ctx,
    MergeMessageSchema,
    async (msg, { runtime, record, receiveCount, maxReceiveCount, deadline, signal }) => {
      // The SQS message id names this merge: a redelivery of the same message may resume it.
      let status: Awaited<ReturnType<typeof runMerge>>;
      try {
        status = await runMerge(runtime.deps, msg, record.messageId, { receiveCount, maxReceiveCount, deadline, signal });
      } catch (e) {
        runtime.metrics.add("mergeAttemptsFailed", "Count", 1);
        throw e;
      }
      // jobs_<status> is counted where the job's end is written (lib/pipeline/job-metrics.ts), whichever path ends it.
      if (status === "deferred") runtime.metrics.add("mergeDeferred", "Count", 1);
      if (status === "failed") runtime.metrics.add("mergeFailed", "Count", 1);
    },
    "merge",
  );

export const handler = createMergeHandler(lambda);
