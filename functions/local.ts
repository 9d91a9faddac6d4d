/** The handlers `ferry serve` runs: exactly the Lambda entry points, adapted to lib/local's shapes. */
import type { APIGatewayProxyEventV2, Context, SQSEvent } from "aws-lambda";
import type { LocalHandlers } from "../lib/local/serve.ts";
import { handler as api } from "./api.ts";
import { handler as backfill } from "./backfill.ts";
import { handler as copy } from "./copy.ts";
import { handler as merge } from "./merge.ts";
import { handler as plan } from "./plan.ts";

// lib/local's event shapes are structural copies of the aws-lambda types (lib/ cannot import those).
export const handlers: LocalHandlers = {
  api: (event, context) => api(event as unknown as APIGatewayProxyEventV2, context as unknown as Context),
  plan: async (event, context) => (await plan(event as unknown as SQSEvent, context as unknown as Context)) ?? undefined,
  copy: async (event, context) => (await copy(event as unknown as SQSEvent, context as unknown as Context)) ?? undefined,
  merge: async (event, context) => (await merge(event as unknown as SQSEvent, context as unknown as Context)) ?? undefined,
  backfill: (event, context) => backfill(event, context as unknown as Context),
};
