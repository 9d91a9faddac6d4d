/** Lambda: merge queue consumer. Pushes the index and moves the tags, once per job. */
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { runMerge } from "../lib/pipeline/merge.ts";
import { MergeMessageSchema } from "../lib/queue/messages.ts";
import { failJob } from "./poison.ts";
import { metrics } from "./runtime.ts";
import { sqsConsumer } from "./sqs-batch.ts";

export const handler = sqsConsumer(
  MergeMessageSchema,
  async (msg, { runtime, record, deadline, signal }) => {
    // The SQS message id names this merge: a redelivery of the same message may resume it.
    const status = await runMerge(runtime.deps, msg.jobId, record.messageId, { deadline, signal });
    if (status) metrics.addMetric(`jobs_${status}`, MetricUnit.Count, 1);
  },
  failJob,
);
