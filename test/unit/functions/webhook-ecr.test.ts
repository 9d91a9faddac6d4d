/**
 * ECR push events reach the webhook function straight from EventBridge (no HTTP, no secret: IAM
 * authenticated the rule) and go through the same rule matching as any webhook; HTTP deliveries
 * to the same function still take the API's routes.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { Logger } from "@aws-lambda-powertools/logger";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import type { HandlerContext, Runtime } from "../../../functions/runtime.ts";
import { createWebhookHandler } from "../../../functions/webhook.ts";
import { parseConfig } from "../../../lib/config.ts";
import { noMetrics, silentLog } from "../../../lib/pipeline/deps.ts";
import { poolFromConfig } from "../../../lib/pipeline/registries.ts";
import type { AnyMessage, QueuePort } from "../../../lib/queue/messages.ts";
import { MemoryJobStore } from "../../../lib/state/memory.ts";

const ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const D = `sha256:${"a".repeat(64)}`;
const event = (repository: string, tag: string) => ({
  version: "0",
  id: `ev-${repository}-${tag}`,
  "detail-type": "ECR Image Action",
  source: "aws.ecr",
  account: "123456789012",
  time: "2026-11-30T12:00:00Z",
  region: "us-east-1",
  resources: [],
  detail: { result: "SUCCESS", "repository-name": repository, "image-digest": D, "action-type": "PUSH", "image-tag": tag },
});

it("an ECR push event from EventBridge becomes a job by the rules; an unmatched one does not; HTTP still routes", async () => {
  const config = parseConfig({ version: 1, rules: [{ name: "out-of-ecr", source: `${ECR}/team/*`, destinations: ["mirror.example.com/{repo}"] }] });
  const sent: AnyMessage[] = [];
  const queues: QueuePort = { send: async (_q, m) => void sent.push(...m), backlog: async () => 0, retryLater: async () => undefined };
  const store = new MemoryJobStore();
  const runtime: Runtime = { deps: { config, store, queues, registries: poolFromConfig(config), log: silentLog }, maxReceiveCount: 5, metrics: noMetrics };
  const ctx: HandlerContext = { runtime: async () => runtime, logger: new Logger({ logLevel: "SILENT" }) };
  const handler = createWebhookHandler(ctx);
  const context = { getRemainingTimeInMillis: () => 30_000, awsRequestId: "r" } as unknown as Context;

  const accepted = (await handler(event("team/app", "v1"), context)) as { accepted: number; jobs: string[] };
  assert.equal(accepted.accepted, 1);
  const job = await store.getJob(accepted.jobs[0] as string);
  assert.equal(job?.request.source, `${ECR}/team/app:v1@${D}`);
  assert.deepEqual(job?.request.destinations, ["mirror.example.com/team/app"]);
  assert.equal(sent.length, 1);

  const ignored = (await handler(event("other/app", "v1"), context)) as { accepted: number };
  assert.equal(ignored.accepted, 0);
  assert.equal(sent.length, 1);

  const http = (await handler(
    {
      rawPath: "/webhooks/nope/x",
      headers: {},
      body: "{}",
      isBase64Encoded: false,
      requestContext: { http: { method: "POST" } },
    } as unknown as APIGatewayProxyEventV2,
    context,
  )) as { statusCode: number };
  assert.equal(http.statusCode, 404);
});
