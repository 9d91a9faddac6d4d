/**
 * Lambda: a rule's scheduled backfill (EventBridge Scheduler sends `{"rule": NAME}`). Runs until
 * shortly before the function's timeout; a cursor in the table lets the next run resume.
 */
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { FerryError } from "../lib/errors.ts";
import { backfillRule } from "../lib/pipeline/backfill.ts";
import { submitReplication } from "../lib/pipeline/ingress.ts";
import { forInvocation, type HandlerContext, lambda, withMiddleware } from "./runtime.ts";

export const createBackfillHandler = (ctx: HandlerContext) => {
  const handler = middy(async (event: { rule?: string }, context: Context) => {
    const { deps, metrics } = forInvocation(await ctx.runtime(), ctx, context);
    const rule = deps.config.rules.find((r) => r.name === event.rule);
    if (!rule) throw new FerryError("INVALID_CONFIG", `no rule named ${String(event.rule)}`);
    const { counts, complete } = await backfillRule(
      deps.registries,
      rule,
      async (request, jobId) => (await submitReplication(deps, request, jobId)).created,
      deps.log,
      { deadline: Date.now() + context.getRemainingTimeInMillis() - 15_000, cursors: deps.store, written: deps.store },
    );
    metrics.add("backfillEnqueued", "Count", counts.enqueued);
    return { rule: rule.name, complete, ...counts };
  });
  return withMiddleware(handler, ctx);
};

export const handler = createBackfillHandler(lambda);
