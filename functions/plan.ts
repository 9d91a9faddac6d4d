/** Lambda: plan queue consumer. Resolves the source and fans out one copy message per task. */
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { planJob } from "../lib/pipeline/plan.ts";
import { PlanMessageSchema } from "../lib/queue/messages.ts";
import { failJob } from "./poison.ts";
import { metrics } from "./runtime.ts";
import { sqsConsumer } from "./sqs-batch.ts";

export const handler = sqsConsumer(
  PlanMessageSchema,
  async (msg, { runtime, deadline, signal }) => {
    await planJob(runtime.deps, msg.jobId, { deadline, signal });
    metrics.addMetric("jobsPlanned", MetricUnit.Count, 1);
  },
  failJob,
);
