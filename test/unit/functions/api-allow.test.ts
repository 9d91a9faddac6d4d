/**
 * `POST /replications` replicates only what the configuration allows — a rule's source and the
 * destinations it renders for it, or an `api.allow` entry — through the very Lambda handler the
 * API runs on AWS (and `ferry serve` runs locally); anything else is 403 FORBIDDEN, and no job.
 */
import assert from "node:assert/strict";
import { Logger } from "@aws-lambda-powertools/logger";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { describe, it } from "node:test";
import { createApiHandler } from "../../../functions/api.ts";
import type { HandlerContext, Runtime } from "../../../functions/runtime.ts";
import { parseConfig } from "../../../lib/config.ts";
import { noMetrics, silentLog } from "../../../lib/pipeline/deps.ts";
import { poolFromConfig } from "../../../lib/pipeline/registries.ts";
import type { AnyMessage, QueueName, QueuePort } from "../../../lib/queue/messages.ts";
import { replicationAllowed } from "../../../lib/rules/allow.ts";
import { MemoryJobStore } from "../../../lib/state/memory.ts";

const config = parseConfig({
  version: 1,
  rules: [
    { name: "mirror", source: "src.example.com/team/**", destinations: ["dst.example.com/mirror/{repo}", "backup.example.com/{name}"] },
    { name: "tools", source: "src.example.com/tools/*", destinations: ["dst.example.com/tools/{name}"] },
  ],
  api: { allow: [{ source: "src.example.com/sandbox/*", destinations: ["scratch.example.com/**"] }] },
});

describe("which one-off replications are allowed", () => {
  const cases: Array<[string, { source: string; destinations: string[]; rule?: string }, string | false]> = [
    [
      "a rule's source to its rendered destination",
      { source: "src.example.com/team/a/app:v1", destinations: ["dst.example.com/mirror/team/a/app"] },
      "rule mirror",
    ],
    [
      "both of a rule's destinations, tags free",
      { source: "src.example.com/team/app:v1", destinations: ["dst.example.com/mirror/team/app:v2", "backup.example.com/app"] },
      "rule mirror",
    ],
    ["an api.allow entry", { source: "src.example.com/sandbox/x:1", destinations: ["scratch.example.com/any/where"] }, "api.allow[0]"],
    ["a destination the rule does not render", { source: "src.example.com/team/app:v1", destinations: ["dst.example.com/elsewhere/app"] }, false],
    ["a private source no rule covers", { source: "private.example.com/secret/app:v1", destinations: ["dst.example.com/mirror/secret/app"] }, false],
    [
      "one allowed and one foreign destination",
      { source: "src.example.com/team/app:v1", destinations: ["backup.example.com/app", "evil.example.com/app"] },
      false,
    ],
    ["a named rule that does not cover it", { source: "src.example.com/team/app:v1", destinations: ["dst.example.com/mirror/team/app"], rule: "tools" }, false],
    [
      "an api.allow entry does not serve a named rule",
      { source: "src.example.com/sandbox/x:1", destinations: ["scratch.example.com/y"], rule: "mirror" },
      false,
    ],
  ];
  for (const [name, req, by] of cases) {
    it(name, () => {
      const v = replicationAllowed(config, req);
      if (by) assert.deepEqual(v, { allowed: true, by });
      else assert.equal(v.allowed, false);
    });
  }
});

class RecordingQueues implements QueuePort {
  readonly sent: AnyMessage[] = [];
  async send(_q: QueueName, messages: AnyMessage[]): Promise<void> {
    this.sent.push(...messages);
  }
  async backlog(): Promise<number> {
    return 0;
  }
  async retryLater(): Promise<void> {}
}

describe("the AWS API handler", () => {
  it("answers 403 FORBIDDEN outside the rules and queues nothing; 202 within them", async () => {
    const queues = new RecordingQueues();
    const store = new MemoryJobStore();
    const runtime: Runtime = { deps: { config, store, queues, registries: poolFromConfig(config), log: silentLog }, maxReceiveCount: 5, metrics: noMetrics };
    const ctx: HandlerContext = { runtime: async () => runtime, logger: new Logger({ logLevel: "SILENT" }) };
    const handler = createApiHandler(ctx);
    const post = async (body: unknown) => {
      const event = {
        rawPath: "/replications",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        isBase64Encoded: false,
        requestContext: { http: { method: "POST" } },
      } as unknown as APIGatewayProxyEventV2;
      const res = (await handler(event, { getRemainingTimeInMillis: () => 30_000, awsRequestId: "r" } as unknown as Context)) as {
        statusCode: number;
        body: string;
      };
      return { status: res.statusCode, body: JSON.parse(res.body) as Record<string, unknown> };
    };
    const refused = await post({ source: "private.example.com/secret/app:v1", destinations: ["dst.example.com/mirror/secret/app"] });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, "FORBIDDEN");
    assert.match(String(refused.body.error), /not within any rule or api\.allow entry/);
    assert.equal(queues.sent.length, 0);
    assert.deepEqual(await store.listJobs(10), []);
    const ok = await post({ source: "src.example.com/team/app:v1", destinations: ["dst.example.com/mirror/team/app"] });
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    assert.equal(queues.sent.length, 1);
  });
});
