/**
 * The handlers `ferry serve` runs: exactly the Lambda entry points' factories, given a runtime
 * built from the settings `lib/local` passes (no environment variables), adapted to its shapes.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import type { APIGatewayProxyEventV2, Context, SQSEvent } from "aws-lambda";
import type { LocalHandlers, LocalRuntimeSettings } from "../lib/local/serve.ts";
import { createApiHandler } from "./api.ts";
import { createBackfillHandler } from "./backfill.ts";
import { createCopyHandler } from "./copy.ts";
import { createMergeHandler } from "./merge.ts";
import { createPlanHandler } from "./plan.ts";
import { createReconcileHandler } from "./reconcile.ts";
import { createRuntime, type HandlerContext } from "./runtime.ts";

export async function createLocalHandlers(s: LocalRuntimeSettings): Promise<LocalHandlers> {
  const logger = new Logger({ serviceName: "ferry", logLevel: (s.logLevel ?? "WARN") as "WARN" });
  const runtime = await createRuntime({ ...s, region: "us-east-1" }, logger, s.metrics);
  // Handlers overlap in this process: nothing per invocation may be set on the shared logger.
  const ctx: HandlerContext = { runtime: async () => runtime, logger, overlapping: true };
  const api = createApiHandler(ctx);
  const plan = createPlanHandler(ctx);
  const copy = createCopyHandler(ctx);
  const merge = createMergeHandler(ctx);
  const backfill = createBackfillHandler(ctx);
  const reconcile = createReconcileHandler(ctx);
  // lib/local's event shapes are structural copies of the aws-lambda types (lib/ cannot import those).
  const sqs = (h: typeof plan) => async (event: unknown, context: unknown) => (await h(event as SQSEvent, context as Context)) ?? undefined;
  return {
    api: (event, context) => api(event as unknown as APIGatewayProxyEventV2, context as unknown as Context),
    plan: sqs(plan),
    copy: sqs(copy),
    merge: sqs(merge),
    backfill: (event, context) => backfill(event, context as unknown as Context),
    reconcile: (event, context) => reconcile(event, context as unknown as Context),
  };
}
