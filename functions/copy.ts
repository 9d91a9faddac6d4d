/** Lambda: copy queue consumer (the fan-out). Copies one manifest by digest into one destination. */
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { runCopyTask } from "../lib/pipeline/copy-task.ts";
import { CopyMessageSchema } from "../lib/queue/messages.ts";
import { failJob } from "./poison.ts";
import { metrics } from "./runtime.ts";
import { sqsConsumer } from "./sqs-batch.ts";

export const handler = sqsConsumer(
  CopyMessageSchema,
  async (msg, { runtime, receiveCount, deadline, signal }) => {
    const s = await runCopyTask(runtime.deps, msg, { receiveCount, maxReceiveCount: runtime.maxReceiveCount, deadline, signal });
    metrics.addMetric("bytesCopied", MetricUnit.Bytes, s.bytes);
    metrics.addMetric("blobsCopied", MetricUnit.Count, s.blobs.copied);
    metrics.addMetric("blobsSkipped", MetricUnit.Count, s.blobs.skipped);
    metrics.addMetric("blobsMounted", MetricUnit.Count, s.blobs.mounted);
    metrics.addMetric("copyDuration", MetricUnit.Milliseconds, s.durationMs);
    metrics.addMetric(s.outcome === "failed" ? "tasksFailed" : "tasksDone", MetricUnit.Count, 1);
  },
  failJob,
);
