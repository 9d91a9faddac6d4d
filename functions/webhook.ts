/**
 * Lambda: webhook receiver. HTTP deliveries take the same routes as the API function (deployed
 * separately, without gateway auth); ECR push events come straight from EventBridge (IAM
 * authenticates them: the rule's invoke permission) and go through the same rule matching.
 */
import middy from "@middy/core";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { acceptEcrEvent } from "../lib/pipeline/webhook-ingress.ts";
import { createApiHandler } from "./api.ts";
import { forInvocation, type HandlerContext, lambda, withMiddleware } from "./runtime.ts";

/** An EventBridge event (not an API Gateway request): `source` at the top. */
const isEcrEvent = (event: unknown): boolean => (event as { source?: unknown } | null)?.source === "aws.ecr";

export const createWebhookHandler = (ctx: HandlerContext) => {
  const http = createApiHandler(ctx);
  const ecr = withMiddleware(
    middy(async (event: unknown, context: Context) => {
      const { deps } = forInvocation(await ctx.runtime(), ctx, context);
      const res = await acceptEcrEvent(deps, event);
      // A delivery that is not a replication is answered, not retried; anything thrown goes back to EventBridge (its DLQ).
      if (res.status >= 400) deps.log.warn("ECR event refused", { status: res.status, body: res.body });
      return res.body;
    }),
    ctx,
  );
  return (event: APIGatewayProxyEventV2 | Record<string, unknown>, context: Context) =>
    isEcrEvent(event) ? ecr(event, context) : http(event as APIGatewayProxyEventV2, context);
};

export const handler = createWebhookHandler(lambda);
