/** Lambda: the HTTP API (API Gateway HTTP API v2): replications and webhooks. */
import middy from "@middy/core";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { handleHttp } from "../lib/pipeline/http.ts";
import { type HandlerContext, lambda } from "./runtime.ts";

export const createApiHandler = (ctx: HandlerContext) =>
  middy(async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const { deps } = await ctx.runtime();
    const headers = Object.fromEntries(Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v ?? ""]));
    const body = event.body === undefined ? Buffer.alloc(0) : Buffer.from(event.body, event.isBase64Encoded ? "base64" : "utf8");
    const query = Object.fromEntries(Object.entries(event.queryStringParameters ?? {}).map(([k, v]) => [k, v ?? ""]));
    const res = await handleHttp(deps, { method: event.requestContext.http.method, path: event.rawPath, query, headers, body });
    return { statusCode: res.status, headers: { "content-type": "application/json" }, body: JSON.stringify(res.body) };
  }).use(injectLambdaContext(ctx.logger, { resetKeys: true }));

export const handler = createApiHandler(lambda);
