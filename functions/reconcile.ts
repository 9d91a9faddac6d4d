/**
 * Lambda: the reconciler, run on a schedule (and by `ferry serve` at start-up and on a timer).
 * Jobs that stopped moving are re-driven, or failed with STUCK after `pipeline.maxRedrives`;
 * the age of the oldest job not yet final is a metric with an alarm on it.
 */
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { reconcile } from "../lib/pipeline/recovery.ts";
import { forInvocation, type HandlerContext, lambda, withMiddleware } from "./runtime.ts";

export const createReconcileHandler = (ctx: HandlerContext) => {
  const handler = middy(async (event: { startup?: boolean } | undefined, context: Context) => {
    const { deps, metrics } = forInvocation(await ctx.runtime(), ctx, context);
    const report = await reconcile(deps, { startup: event?.startup === true });
    metrics.add("oldestActiveJobAgeSeconds", "Seconds", report.oldestAgeSeconds);
    metrics.add("activeJobs", "Count", report.active);
    metrics.add("jobsRedriven", "Count", report.redriven);
    metrics.add("jobsFailedStuck", "Count", report.failed);
    return report;
  });
  return withMiddleware(handler, ctx);
};

export const handler = createReconcileHandler(lambda);
