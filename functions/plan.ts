/**
 * Lambda: plan queue consumer. Resolves the source and fans out one copy message per task; a
 * referrer pushed after its image was mirrored becomes a job that copies just the referrers.
 */
import { planJob } from "../lib/pipeline/plan.ts";
import { handleReferrerEvent } from "../lib/pipeline/referrer-events.ts";
import { PlanQueueMessageSchema } from "../lib/queue/messages.ts";
import { type HandlerContext, lambda } from "./runtime.ts";
import { sqsConsumer } from "./sqs-batch.ts";

export const createPlanHandler = (ctx: HandlerContext) =>
  sqsConsumer(
    ctx,
    PlanQueueMessageSchema,
    async (msg, { runtime, receiveCount, maxReceiveCount, deadline, signal }) => {
      if (msg.kind === "referrers") {
        const r = await handleReferrerEvent(runtime.deps, msg);
        runtime.metrics.add("referrerEvents", "Count", 1);
        if (r.requeued) runtime.metrics.add("gateRequeued", "Count", r.requeued);
        return;
      }
      try {
        const outcome = await planJob(runtime.deps, msg.jobId, { receiveCount, maxReceiveCount, deadline, signal });
        runtime.metrics.add(outcome === "failed" ? "planFailed" : "jobsPlanned", "Count", outcome === "ignored" ? 0 : 1);
      } catch (e) {
        runtime.metrics.add("planAttemptsFailed", "Count", 1);
        throw e;
      }
    },
    "plan",
  );

export const handler = createPlanHandler(lambda);
