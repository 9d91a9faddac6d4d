/** Lambda: the HTTP API (API Gateway HTTP API v2): replications and webhooks. */
import middy from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { handleHttp } from "../lib/pipeline/http.ts";
import { forInvocation, type HandlerContext, lambda, withMiddleware } from "./runtime.ts";

export const createApiHandler = (ctx: HandlerContext) =>
  withMiddleware(
    middy(async (event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyStructuredResultV2> => {
      const { deps } = forInvocation(await ctx.runtime(), ctx, context);
      const headers = Object.fromEntries(Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v ?? ""]));
      const body = event.body === undefined ? Buffer.alloc(0) : Buffer.from(event.body, event.isBase64Encoded ? "base64" : "utf8");
      const query = Object.fromEntries(Object.entries(event.queryStringParameters ?? {}).map(([k, v]) => [k, v ?? ""]));
      const res = await handleHttp(deps, { method: event.requestContext.http.method, path: event.rawPath, query, headers, body });
      const out = { "content-type": "application/json", ...res.headers };
      return { statusCode: res.status, headers: out, body: res.text ?? JSON.stringify(res.body) };
    }),
    ctx,
  );

export const handler = createApiHandler(lambda);
