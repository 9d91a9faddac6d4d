/**
 * The CDK stack: wiring asserted on the template, cdk-nag's AwsSolutions pack clean, and the
 * bundled copy handler — imported from a synthesized cdk.out — processing a real SQS batch.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { App, Validations } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { FerryStack } from "../../infra/stack.ts";
import { parseConfigText } from "../../lib/config.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const exampleText = readFileSync(join(root, "infra/example.ferry.yml"), "utf8");

function stack(opts: { bundle?: boolean; nag?: boolean; outdir?: string; text?: string } = {}) {
  const text = opts.text ?? exampleText;
  const app = new App({
    ...(opts.outdir ? { outdir: opts.outdir } : {}),
    context: { ...(opts.bundle ? { "aws:cdk:enable-asset-metadata": true } : { "aws:cdk:bundling-stacks": [] }) },
  });
  const s = new FerryStack(app, "FerryTest", { config: parseConfigText(text), configText: text, env: { account: "123456789012", region: "us-east-1" } });
  if (opts.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, s };
}

describe("template wiring", () => {
  const { s } = stack();
  const t = Template.fromStack(s);
  const res = (type: string) => Object.values(t.findResources(type)) as Array<{ Properties: Record<string, unknown> }>;

  it("every queue has a DLQ with redrive, SQS-managed encryption, and visibility ≥ 6 × its consumer's timeout", () => {
    const fns = t.findResources("AWS::Lambda::Function");
    const timeoutOf = (needle: string) => Object.entries(fns).find(([k]) => k.includes(needle))?.[1]?.Properties?.Timeout as number;
    const queues = Object.entries(t.findResources("AWS::SQS::Queue"));
    const main = queues.filter(([k]) => /(plan|copy|merge)Queue/.test(k));
    assert.equal(main.length, 3);
    for (const [key, q] of main) {
      const name = /(plan|copy|merge)Queue/.exec(key)?.[1] as string;
      const fnTimeout = timeoutOf(`${name[0]?.toUpperCase()}${name.slice(1)}Function`);
      assert.ok(q.Properties.RedrivePolicy?.deadLetterTargetArn, `${key} has a DLQ`);
      assert.equal(q.Properties.RedrivePolicy?.maxReceiveCount, 3);
      assert.ok(q.Properties.VisibilityTimeout >= 6 * fnTimeout, `${key}: ${q.Properties.VisibilityTimeout} vs ${fnTimeout}`);
      assert.equal(q.Properties.SqsManagedSseEnabled, true);
    }
    assert.equal(queues.filter(([k]) => /Dlq/.test(k)).length, 3);
  });

  it("every event source mapping reports batch item failures and caps concurrency", () => {
    const esms = res("AWS::Lambda::EventSourceMapping");
    assert.equal(esms.length, 3);
    for (const e of esms) {
      assert.deepEqual(e.Properties.FunctionResponseTypes, ["ReportBatchItemFailures"]);
      assert.ok((e.Properties.ScalingConfig as { MaximumConcurrency: number }).MaximumConcurrency >= 2);
    }
  });

  it("the table has TTL, point-in-time recovery and the recent-jobs index", () => {
    t.hasResourceProperties("AWS::DynamoDB::GlobalTable", {
      TimeToLiveSpecification: { AttributeName: "ttl", Enabled: true },
      Replicas: Match.arrayWith([Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })]),
      GlobalSecondaryIndexes: Match.arrayWith([Match.objectLike({ IndexName: "gsi1" })]),
    });
  });

  it("functions run Node 22 on arm64; copy may run 15 minutes", () => {
    const fns = res("AWS::Lambda::Function").filter((f) => f.Properties.Handler === "index.handler");
    assert.equal(fns.length, 6);
    for (const f of fns) {
      assert.equal(f.Properties.Runtime, "nodejs22.x");
      assert.deepEqual(f.Properties.Architectures, ["arm64"]);
    }
    assert.ok(fns.some((f) => f.Properties.Timeout === 900 && f.Properties.MemorySize === 1769));
  });

  it("a schedule per backfill rule, invoking the backfill function with the rule's name", () => {
    const schedules = res("AWS::Scheduler::Schedule");
    assert.equal(schedules.length, 1);
    const schedule = schedules[0];
    assert.ok(schedule);
    assert.equal(schedule.Properties.ScheduleExpression, "rate(6 hours)");
    assert.equal((schedule.Properties.Target as { Input: string }).Input, JSON.stringify({ rule: "releases" }));
  });

  it("webhooks need no gateway auth; /replications uses IAM; the stage is throttled", () => {
    const routes = res("AWS::ApiGatewayV2::Route").map((r) => [r.Properties.RouteKey, r.Properties.AuthorizationType]);
    assert.deepEqual(routes.sort(), [["GET /replications", "AWS_IAM"], ["GET /replications/{id}", "AWS_IAM"], ["POST /replications", "AWS_IAM"], ["POST /webhooks/{provider}/{id}", "NONE"]].sort());
    t.hasResourceProperties("AWS::ApiGatewayV2::Stage", { DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 } });
  });

  it("IAM policies name specific resources: no '*' resource for any data action", () => {
    const allowedOnStar = new Set(["ecr:GetAuthorizationToken"]);
    let statements = 0;
    for (const p of res("AWS::IAM::Policy")) {
      for (const st of (p.Properties.PolicyDocument as { Statement: Array<{ Action: string | string[]; Resource: unknown }> }).Statement) {
        statements++;
        const actions = Array.isArray(st.Action) ? st.Action : [st.Action];
        const resources = Array.isArray(st.Resource) ? st.Resource : [st.Resource];
        if (resources.includes("*")) assert.deepEqual(actions.filter((a) => !allowedOnStar.has(a)), [], JSON.stringify(st));
      }
    }
    assert.ok(statements > 10);
  });

  it("alarms on every DLQ and on every function's errors and throttles; a dashboard", () => {
    assert.equal(res("AWS::CloudWatch::Alarm").length, 3 + 6 * 2);
    assert.equal(res("AWS::CloudWatch::Dashboard").length, 1);
  });
});

describe("cdk-nag", () => {
  it("the AwsSolutions pack finds nothing unacknowledged", () => {
    const { app } = stack({ nag: true });
    // Validation failures make synth throw ("Validation failed"); every acknowledgement carries a reason.
    assert.doesNotThrow(() => app.synth());
  });

  it("and does catch a finding when one is introduced (so the check can fail)", async () => {
    const { app, s } = stack({ nag: true });
    const { Queue } = await import("aws-cdk-lib/aws-sqs");
    new Queue(s, "Unencrypted", { encryption: (await import("aws-cdk-lib/aws-sqs")).QueueEncryption.UNENCRYPTED });
    assert.throws(() => app.synth());
  });
});

describe("the bundled copy handler from cdk.out", () => {
  const dirs: string[] = [];
  after(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it("is at most 1.5 MB and processes a real SQS batch against the stand-ins", { timeout: 180_000 }, async () => {
    const outdir = await mkdtemp(join(root, ".cdk-test-"));
    dirs.push(outdir);
    const { app, s } = stack({ bundle: true, outdir });
    const assembly = app.synth();
    const template = assembly.getStackArtifact(s.artifactId).template as { Resources: Record<string, { Type: string; Metadata?: Record<string, string> }> };
    const copy = Object.entries(template.Resources).find(([k, r]) => r.Type === "AWS::Lambda::Function" && k.includes("CopyFunction"))?.[1];
    const assetPath = copy?.Metadata?.["aws:asset:path"];
    assert.ok(assetPath, "the copy function names its asset");
    const bundle = join(outdir, assetPath, "index.mjs");
    const size = readFileSync(bundle).byteLength;
    assert.ok(size <= 1.5 * 1024 * 1024, `copy bundle is ${size} bytes`);
    const { runBundledCopy } = await import("../helpers/bundled-copy.ts");
    await runBundledCopy(bundle);
  });
});
