/** Lambda: plan queue consumer. Resolves the source and fans out one copy message per task. */
import { planJob } from "../lib/pipeline/plan.ts";
import { PlanMessageSchema } from "../lib/queue/messages.ts";
import { type HandlerContext, lambda } from "./runtime.ts";
import { sqsConsumer } from "./sqs-batch.ts";

export const createPlanHandler = (ctx: HandlerContext) =>
  sqsConsumer(ctx, PlanMessageSchema, async (msg, { runtime, receiveCount, maxReceiveCount, deadline, signal }) => {
    try {
      const outcome = await planJob(runtime.deps, msg.jobId, { receiveCount, maxReceiveCount, deadline, signal });
      runtime.metrics.add(outcome === "failed" ? "planFailed" : "jobsPlanned", "Count", outcome === "ignored" ? 0 : 1);
    } catch (e) {
      runtime.metrics.add("planAttemptsFailed", "Count", 1);
      throw e;
    }
  });

export const handler = createPlanHandler(lambda);
