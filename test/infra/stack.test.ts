/**
 * The CDK stack: wiring asserted on the template (queues, functions, the reconciler and its
 * schedule, alarms on one topic), cdk-nag's AwsSolutions pack clean, and the bundled copy
 * handler — imported from a synthesized cdk.out — processing a real SQS batch.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { App, Validations } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { AwsSolutionsChecks } from "cdk-nag";
import { FerryStack } from "../../infra/stack.ts";
import { parseConfigText } from "../../lib/config.ts";
import { FerryError } from "../../lib/errors.ts";

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

type Res = { Properties: Record<string, unknown> };
const templateOf = (text = exampleText) => Template.fromStack(stack({ text }).s);
const resourcesOf = (t: Template, type: string) => Object.entries(t.findResources(type)) as Array<[string, Res]>;
/** The example config with extra top-level YAML (the example sets no pipeline or alarms). */
const withConfig = (yaml: string) => `${exampleText}\n${yaml}\n`;
const fnKey = (t: Template, name: string) => {
  const key = resourcesOf(t, "AWS::Lambda::Function").find(([k]) => k.includes(`${name}Function`))?.[0];
  assert.ok(key, `a ${name} function`);
  return key;
};
const queueKeys = (t: Template) => resourcesOf(t, "AWS::SQS::Queue").filter(([k]) => /(plan|copy|merge)Queue/.test(k));

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
      assert.equal(q.Properties.RedrivePolicy?.maxReceiveCount, 5);
      assert.ok(q.Properties.VisibilityTimeout >= 6 * fnTimeout, `${key}: ${q.Properties.VisibilityTimeout} vs ${fnTimeout}`);
      assert.equal(q.Properties.SqsManagedSseEnabled, true);
    }
    assert.equal(queues.filter(([k]) => /Dlq/.test(k)).length, 3);
  });

  it("maxReceiveCount is 5 by default, in every redrive policy and in every function's FERRY_MAX_RECEIVE_COUNT", () => {
    const queues = queueKeys(t);
    assert.deepEqual(
      queues.map(([, q]) => (q.Properties.RedrivePolicy as { maxReceiveCount: number }).maxReceiveCount),
      [5, 5, 5],
    );
    const fns = res("AWS::Lambda::Function").filter((f) => f.Properties.Handler === "index.handler");
    for (const f of fns) assert.equal((f.Properties.Environment as { Variables: Record<string, unknown> }).Variables.FERRY_MAX_RECEIVE_COUNT, "5");
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
      GlobalSecondaryIndexes: Match.arrayWith([
        {
          IndexName: "gsi1",
          KeySchema: [
            { AttributeName: "gsi1pk", KeyType: "HASH" },
            { AttributeName: "gsi1sk", KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "ALL" },
        },
      ]),
    });
  });

  it("the sparse `active` index: activeShard (S) and createdAt (S), keys only", () => {
    t.hasResourceProperties("AWS::DynamoDB::GlobalTable", {
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: "activeShard", AttributeType: "S" },
        { AttributeName: "createdAt", AttributeType: "S" },
      ]),
      GlobalSecondaryIndexes: Match.arrayWith([
        {
          IndexName: "active",
          KeySchema: [
            { AttributeName: "activeShard", KeyType: "HASH" },
            { AttributeName: "createdAt", KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "KEYS_ONLY" },
        },
      ]),
    });
  });

  it("functions run Node 22 on arm64; copy may run 15 minutes", () => {
    const fns = res("AWS::Lambda::Function").filter((f) => f.Properties.Handler === "index.handler");
    assert.equal(fns.length, 7);
    for (const f of fns) {
      assert.equal(f.Properties.Runtime, "nodejs22.x");
      assert.deepEqual(f.Properties.Architectures, ["arm64"]);
    }
    assert.ok(fns.some((f) => f.Properties.Timeout === 900 && f.Properties.MemorySize === 1769));
  });

  it("a schedule per backfill rule, invoking the backfill function with the rule's name", () => {
    const backfill = fnKey(t, "Backfill");
    const schedules = res("AWS::Scheduler::Schedule").filter((r) => JSON.stringify(r.Properties.Target).includes(backfill));
    assert.equal(schedules.length, 1);
    const schedule = schedules[0];
    assert.ok(schedule);
    assert.equal(schedule.Properties.ScheduleExpression, "rate(6 hours)");
    assert.equal((schedule.Properties.Target as { Input: string }).Input, JSON.stringify({ rule: "releases" }));
  });

  it("webhooks need no gateway auth; /replications uses IAM; the stage is throttled", () => {
    const routes = res("AWS::ApiGatewayV2::Route").map((r) => [r.Properties.RouteKey, r.Properties.AuthorizationType]);
    assert.deepEqual(
      routes.sort(),
      [
        ["GET /replications", "AWS_IAM"],
        ["GET /replications/{id}", "AWS_IAM"],
        ["POST /replications", "AWS_IAM"],
        ["POST /replications/{id}/redrive", "AWS_IAM"],
        ["POST /replications/{id}/fail", "AWS_IAM"],
        ["POST /webhooks/{provider}/{id}", "NONE"],
      ].sort(),
    );
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
        if (resources.includes("*"))
          assert.deepEqual(
            actions.filter((a) => !allowedOnStar.has(a)),
            [],
            JSON.stringify(st),
          );
      }
    }
    assert.ok(statements > 10);
  });

  it("alarms on every DLQ and on every function's errors and throttles; a dashboard", () => {
    const alarms = resourcesOf(t, "AWS::CloudWatch::Alarm");
    // 3 DLQ depths, 7 functions × (errors, throttles), 3 queue ages, oldest job, STUCK failures, reconciler not running.
    assert.equal(alarms.length, 3 + 7 * 2 + 3 + 3);
    for (const stage of ["plan", "copy", "merge"]) {
      for (const kind of ["DlqAlarm", "QueueAgeAlarm"])
        assert.ok(
          alarms.some(([k]) => k.includes(`${stage}${kind}`)),
          `${stage}${kind}`,
        );
    }
    assert.equal(res("AWS::CloudWatch::Dashboard").length, 1);
  });

  it("the dashboard shows failures per stage, the oldest unfinished job and each queue's oldest message", () => {
    const [dashboard] = res("AWS::CloudWatch::Dashboard");
    // The body is JSON inside a Fn::Join: unescape its quotes to read the metric arrays.
    const body = JSON.stringify(dashboard?.Properties.DashboardBody).replaceAll('\\"', '"');
    const shown = ["planFailed", "tasksFailed", "mergeFailed", "oldestActiveJobAgeSeconds", "jobsRedriven", "jobsFailedStuck", "jobs_skipped", "jobDuration"];
    for (const metric of shown) {
      assert.ok(body.includes(`["ferry","${metric}","service","ferry"`), metric);
    }
    assert.equal(body.match(/ApproximateAgeOfOldestMessage/g)?.length, 3);
  });
});

describe("the reconciler", () => {
  const t = templateOf();
  const reconcile = fnKey(t, "Reconcile");

  it("is a bundled function like the others, with the table, the queues and the config", () => {
    const [, fn] = resourcesOf(t, "AWS::Lambda::Function").find(([k]) => k === reconcile) as [string, Res];
    assert.equal(fn.Properties.Handler, "index.handler");
    assert.equal(fn.Properties.Runtime, "nodejs22.x");
    const vars = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    for (const v of ["FERRY_CONFIG_FILE", "FERRY_TABLE", "FERRY_QUEUE_PLAN_URL", "FERRY_QUEUE_COPY_URL", "FERRY_QUEUE_MERGE_URL", "FERRY_MAX_RECEIVE_COUNT"])
      assert.ok(vars[v], v);
    assert.equal(vars.POWERTOOLS_METRICS_NAMESPACE, "ferry");
    assert.equal(vars.POWERTOOLS_SERVICE_NAME, "ferry");
  });

  it("runs every minute by default, with no retries (the next pass comes within a period)", () => {
    t.hasResourceProperties("AWS::Scheduler::Schedule", {
      ScheduleExpression: "rate(1 minute)",
      Target: Match.objectLike({ Arn: { "Fn::GetAtt": [reconcile, "Arn"] }, RetryPolicy: { MaximumEventAgeInSeconds: 60, MaximumRetryAttempts: 0 } }),
    });
    t.hasResourceProperties("AWS::Lambda::EventInvokeConfig", { FunctionName: { Ref: reconcile }, MaximumRetryAttempts: 0 });
  });

  it("runs every reconcileEvery seconds rounded up to whole minutes", () => {
    for (const [every, want] of [
      [60, "rate(1 minute)"],
      [61, "rate(2 minutes)"],
      [150, "rate(3 minutes)"],
      [3600, "rate(1 hour)"],
    ] as const) {
      const tt = templateOf(withConfig(`pipeline: { reconcileEvery: ${every} }`));
      const key = fnKey(tt, "Reconcile");
      tt.hasResourceProperties("AWS::Scheduler::Schedule", { ScheduleExpression: want, Target: Match.objectLike({ Arn: { "Fn::GetAtt": [key, "Arn"] } }) });
    }
  });

  it("may read and update jobs, query the `active` index, send to and read the backlog of the three queues: nothing else", () => {
    const role = resourcesOf(t, "AWS::Lambda::Function").find(([k]) => k === reconcile)?.[1].Properties.Role as { "Fn::GetAtt": [string, string] };
    const policies = resourcesOf(t, "AWS::IAM::Policy").filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(role["Fn::GetAtt"][0]));
    const [policy] = policies;
    assert.ok(policy && policies.length === 1);
    const statements = (policy[1].Properties.PolicyDocument as { Statement: Array<{ Action: string | string[]; Resource: unknown; Effect: string }> })
      .Statement;
    const table = resourcesOf(t, "AWS::DynamoDB::GlobalTable")[0]?.[0] as string;
    const tableArn = { "Fn::GetAtt": [table, "Arn"] };
    const queueArns = ["plan", "copy", "merge"].map((stage) => ({ "Fn::GetAtt": [queueKeys(t).find(([k]) => k.includes(`${stage}Queue`))?.[0], "Arn"] }));
    assert.deepEqual(statements, [
      { Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:UpdateItem"], Resource: tableArn },
      { Effect: "Allow", Action: "dynamodb:Query", Resource: { "Fn::Join": ["", [tableArn, "/index/active"]] } },
      // No secret at all: webhook secrets are read only where deliveries are verified.
      { Effect: "Allow", Action: ["sqs:GetQueueAttributes", "sqs:SendMessage"], Resource: queueArns },
    ]);
  });
});

describe("signature gate keys", () => {
  it("a key kept in Secrets Manager is readable by plan, where the gate runs, and by no other function", () => {
    const keyArn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/cosign-key-AbCdEf";
    const text = exampleText.replace(
      "rules:\n",
      `rules:\n  - { name: gated, source: registry.example.com/signed/*, destinations: ["123456789012.dkr.ecr.us-east-1.amazonaws.com/signed/{name}"], verify: { cosign: { publicKeys: [{ secretArn: "${keyArn}" }] } } }\n`,
    );
    const t = templateOf(text);
    const readers = resourcesOf(t, "AWS::IAM::Policy")
      .filter(([, p]) => JSON.stringify(p.Properties.PolicyDocument).includes(keyArn))
      .map(([, p]) => JSON.stringify(p.Properties.Roles));
    assert.equal(readers.length, 1);
    const role = (name: string) => {
      const fn = resourcesOf(t, "AWS::Lambda::Function").find(([k]) => k === fnKey(t, name));
      assert.ok(fn, name);
      return (fn[1].Properties.Role as { "Fn::GetAtt": [string] })["Fn::GetAtt"][0];
    };
    assert.ok(readers[0]?.includes(role("Plan")));
    for (const other of ["Webhook", "Api", "Copy", "Merge"]) assert.ok(!readers[0]?.includes(role(other)), other);
  });
});

describe("alarms", () => {
  const t = templateOf();
  const alarms = resourcesOf(t, "AWS::CloudWatch::Alarm");
  const topics = resourcesOf(t, "AWS::SNS::Topic");
  const topicRef = { Ref: topics[0]?.[0] };
  const alarm = (needle: string) => {
    const found = alarms.find(([k]) => k.includes(needle))?.[1];
    assert.ok(found, needle);
    return found.Properties;
  };

  it("one topic, encrypted with a rotated key CloudWatch may use, refusing publishes without TLS", () => {
    assert.equal(topics.length, 1);
    const keys = resourcesOf(t, "AWS::KMS::Key");
    assert.equal(keys.length, 1);
    const [keyId, key] = keys[0] as [string, Res];
    assert.deepEqual(topics[0]?.[1].Properties.KmsMasterKeyId, { "Fn::GetAtt": [keyId, "Arn"] });
    assert.equal(key.Properties.EnableKeyRotation, true);
    t.hasResourceProperties("AWS::KMS::Key", {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: "cloudwatch.amazonaws.com" },
            Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
            Condition: Match.objectLike({ StringEquals: { "aws:SourceAccount": "123456789012" } }),
          }),
        ]),
      },
    });
    t.hasResourceProperties("AWS::SNS::TopicPolicy", {
      Topics: [topicRef],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Action: "sns:Publish", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
          Match.objectLike({ Effect: "Allow", Action: "sns:Publish", Principal: { Service: "cloudwatch.amazonaws.com" } }),
        ]),
      },
    });
  });

  it("every alarm notifies the topic, on alarm and on recovery", () => {
    assert.ok(alarms.length > 15);
    for (const [k, a] of alarms) {
      assert.deepEqual(a.Properties.AlarmActions, [topicRef], k);
      assert.deepEqual(a.Properties.OKActions, [topicRef], k);
    }
  });

  it("no e-mail subscription unless alarms.email is set; then exactly that one", () => {
    assert.equal(resourcesOf(t, "AWS::SNS::Subscription").length, 0);
    const tt = templateOf(withConfig("alarms: { email: ops@example.com }"));
    const subs = resourcesOf(tt, "AWS::SNS::Subscription");
    assert.equal(subs.length, 1);
    const topic = resourcesOf(tt, "AWS::SNS::Topic")[0]?.[0];
    assert.deepEqual(subs[0]?.[1].Properties, { Protocol: "email", Endpoint: "ops@example.com", TopicArn: { Ref: topic } });
  });

  it("the age of each queue's oldest message, above visibility × maxReceiveCount", () => {
    const want = { plan: 720 * 5, copy: 5400 * 5, merge: 1080 * 5 };
    for (const [stage, threshold] of Object.entries(want)) {
      const a = alarm(`${stage}QueueAgeAlarm`);
      const queue = queueKeys(t).find(([k]) => k.includes(`${stage}Queue`))?.[0];
      assert.equal(a.Namespace, "AWS/SQS");
      assert.equal(a.MetricName, "ApproximateAgeOfOldestMessage");
      assert.deepEqual(a.Dimensions, [{ Name: "QueueName", Value: { "Fn::GetAtt": [queue, "QueueName"] } }]);
      assert.equal(a.Statistic, "Maximum");
      assert.equal(a.ComparisonOperator, "GreaterThanThreshold");
      assert.equal(a.Threshold, threshold, stage);
    }
  });

  it("webhooks and /replications are throttled per route: a webhook flood cannot starve the API", () => {
    const settings = (t: ReturnType<typeof templateOf>) => {
      const stages = resourcesOf(t, "AWS::ApiGatewayV2::Stage");
      assert.equal(stages.length, 1);
      return stages[0]?.[1].Properties.RouteSettings as Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }>;
    };
    const defaults = settings(templateOf(withConfig("")));
    assert.deepEqual(defaults["POST /webhooks/{provider}/{id}"], { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 });
    for (const route of [
      "POST /replications",
      "GET /replications",
      "GET /replications/{id}",
      "POST /replications/{id}/redrive",
      "POST /replications/{id}/fail",
    ]) {
      assert.deepEqual(defaults[route], { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 }, route);
    }
    const custom = settings(templateOf(withConfig("api:\n  throttle: { webhooks: { rate: 5, burst: 10 }, replications: { rate: 100, burst: 200 } }")));
    assert.deepEqual(custom["POST /webhooks/{provider}/{id}"], { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 });
    assert.deepEqual(custom["POST /replications"], { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 });
  });

  it("every function gets the stuck threshold: 2 × the longest visibility, or the config's stuckAfter", () => {
    const envOf = (t: ReturnType<typeof templateOf>) =>
      resourcesOf(t, "AWS::Lambda::Function").map(([, r]) => (r.Properties.Environment as { Variables: Record<string, unknown> }).Variables.FERRY_STUCK_AFTER);
    const defaults = envOf(templateOf(withConfig("")));
    assert.ok(defaults.length >= 7);
    assert.ok(
      defaults.every((v) => v === "10800"),
      JSON.stringify(defaults),
    );
    assert.ok(envOf(templateOf(withConfig("pipeline: { stuckAfter: 600 }"))).every((v) => v === "600"));
  });

  it("the oldest unfinished job: ferry/oldestActiveJobAgeSeconds above the reconciler's bound", () => {
    const a = alarm("OldestActiveJobAlarm");
    assert.equal(a.Namespace, "ferry");
    assert.equal(a.MetricName, "oldestActiveJobAgeSeconds");
    assert.deepEqual(a.Dimensions, [{ Name: "service", Value: "ferry" }]);
    assert.equal(a.Statistic, "Maximum");
    assert.equal(a.ComparisonOperator, "GreaterThanThreshold");
    // Defaults: stuckAfter is 2 × the longest visibility (copy: 6 × 900 s), so the stuck bound
    // (3 + 1) × (10800 + 60) outweighs a healthy job; one reconcile period (60) on top.
    assert.equal(a.Threshold, 4 * 10_860 + 60);
    const custom = resourcesOf(templateOf(withConfig("pipeline: { stuckAfter: 600, maxRedrives: 2, reconcileEvery: 120 }")), "AWS::CloudWatch::Alarm");
    // (2 + 1) × (600 + 120) + 120
    assert.equal(custom.find(([k]) => k.includes("OldestActiveJobAlarm"))?.[1].Properties.Threshold, 2280);
  });

  it("jobs failed as STUCK, and a reconciler that stopped running", () => {
    const stuck = alarm("JobsFailedStuckAlarm");
    assert.equal(stuck.MetricName, "jobsFailedStuck");
    assert.equal(stuck.Namespace, "ferry");
    assert.equal(stuck.Threshold, 1);
    const idle = alarm("ReconcileNotRunningAlarm");
    assert.equal(idle.MetricName, "Invocations");
    assert.equal(idle.ComparisonOperator, "LessThanThreshold");
    assert.equal(idle.TreatMissingData, "breaching");
  });
});

describe("the config drives the queues", () => {
  it("pipeline.maxReceiveCount sets every redrive policy, every queue-age threshold and FERRY_MAX_RECEIVE_COUNT", () => {
    const t = templateOf(withConfig("pipeline: { maxReceiveCount: 7 }"));
    assert.deepEqual(
      queueKeys(t).map(([, q]) => (q.Properties.RedrivePolicy as { maxReceiveCount: number }).maxReceiveCount),
      [7, 7, 7],
    );
    for (const [, f] of resourcesOf(t, "AWS::Lambda::Function").filter(([, f]) => f.Properties.Handler === "index.handler")) {
      assert.equal((f.Properties.Environment as { Variables: Record<string, unknown> }).Variables.FERRY_MAX_RECEIVE_COUNT, "7");
    }
    const age = resourcesOf(t, "AWS::CloudWatch::Alarm").find(([k]) => k.includes("planQueueAgeAlarm"))?.[1];
    assert.equal(age?.Properties.Threshold, 720 * 7);
  });
});

describe("stack outputs", () => {
  it("the roles of plan, copy, merge and backfill, for cross-account repository policies", () => {
    const outputs = Object.keys(templateOf().toJSON().Outputs as Record<string, unknown>);
    for (const name of ["PlanRoleArn", "CopyRoleArn", "MergeRoleArn", "BackfillRoleArn"]) assert.ok(outputs.includes(name), name);
  });

  it("the alarm topic and the three DLQ ARNs (redrive sources)", () => {
    const t = templateOf();
    const outputs = t.toJSON().Outputs as Record<string, { Value: unknown }>;
    const topic = resourcesOf(t, "AWS::SNS::Topic")[0]?.[0];
    assert.deepEqual(outputs.AlarmTopicArn?.Value, { Ref: topic });
    for (const stage of ["plan", "copy", "merge"]) {
      const dlq = resourcesOf(t, "AWS::SQS::Queue").find(([k]) => k.includes(`${stage}Dlq`))?.[0];
      assert.deepEqual(outputs[`${stage[0]?.toUpperCase()}${stage.slice(1)}DlqArn`]?.Value, { "Fn::GetAtt": [dlq, "Arn"] });
    }
  });
});

/** Each function's role statements, resources named readably (table, table/index/X, queue/X, dlq/ecr-events, fn/X). */
type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
type Readable = { actions: string[]; resources: string[] };
function statementsOf(t: Template, fn: string): Readable[] {
  const label = (r: unknown): string => {
    if (typeof r === "string") return r;
    const o = r as { "Fn::GetAtt"?: [string, string]; "Fn::Join"?: [string, unknown[]]; Ref?: string };
    if (o["Fn::Join"]) return o["Fn::Join"][1].map(label).join(o["Fn::Join"][0]);
    const key = o["Fn::GetAtt"]?.[0] ?? o.Ref ?? JSON.stringify(r);
    if (/Jobs[0-9A-F]{8}$/.test(key)) return "table";
    const q = /(plan|copy|merge)Queue[0-9A-F]{8}$/.exec(key);
    if (q) return `queue/${q[1]}`;
    if (/EcrEventsDeadLetters/.test(key)) return "dlq/ecr-events";
    return key;
  };
  const lambda = resourcesOf(t, "AWS::Lambda::Function").find(([k]) => k === fnKey(t, fn));
  assert.ok(lambda, fn);
  const role = (lambda[1].Properties.Role as { "Fn::GetAtt": [string] })["Fn::GetAtt"][0];
  const statements = resourcesOf(t, "AWS::IAM::Policy")
    .filter(([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: role }]))
    .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
  assert.ok(statements.length > 0, `${fn} has a policy`);
  for (const st of statements) assert.equal(st.Effect, "Allow", JSON.stringify(st));
  const list = (v: unknown) => (Array.isArray(v) ? v : [v]);
  return statements
    .map((st) => ({ actions: list(st.Action).map(String).sort(), resources: list(st.Resource).map(label).sort() }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}
const sorted = (xs: Readable[]) =>
  xs.map((x) => ({ actions: [...x.actions].sort(), resources: [...x.resources].sort() })).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
const FUNCTIONS = ["Api", "Webhook", "Plan", "Copy", "Merge", "Backfill", "Reconcile"] as const;
const allActions = (t: Template, fn: string) => statementsOf(t, fn).flatMap((s) => s.actions);

const ECR_READ = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:ListImages"];
const ECR_PUSH = ["ecr:CompleteLayerUpload", "ecr:CreateRepository", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"];
const secret = (name: string) => `arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/${name}-AbCdEf`;
const repo = (account: string, region: string, name: string) => `arn:aws:ecr:${region}:${account}:repository/${name}`;
const HOME = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const DR = "210987654321.dkr.ecr.eu-west-1.amazonaws.com";
const PARTNER = "555555555555.dkr.ecr.eu-central-1.amazonaws.com";

/** A config with every case: a cross-account destination, ECR sources of this and another account, a root template over literal sources. */
const leastText = `version: 1
registries:
  - host: registry.example.com
    secretArn: ${secret("registry")}
webhooks:
  - { provider: distribution, id: main, registry: registry.example.com, secretArn: ${secret("webhook")} }
rules:
  - name: mirror
    source: registry.example.com/team/**
    destinations: ["${HOME}/mirror/{repo}", "${DR}/dr/{name}"]
  - name: out-of-ecr
    source: ${HOME}/apps/api
    destinations: ["registry.example.com/apps/{name}"]
  - name: from-partner
    source: ${PARTNER}/shared/*
    destinations: ["${HOME}/partner/{name}:{tag}"]
    verify: { cosign: { publicKeys: [{ secretArn: "${secret("cosign")}" }] } }
  - name: root
    source: [ghcr.io/acme/app, ghcr.io/acme/web]
    destinations: ["${HOME}/{name}"]
`;

describe("least privilege per function", () => {
  const t = templateOf(leastText);
  const sources = [repo("123456789012", "us-east-1", "apps/api"), repo("555555555555", "eu-central-1", "shared/*")];
  const destinations = [
    repo("123456789012", "us-east-1", "mirror/team/*"),
    repo("210987654321", "eu-west-1", "dr/*"),
    repo("123456789012", "us-east-1", "partner/*"),
    repo("123456789012", "us-east-1", "app"),
    repo("123456789012", "us-east-1", "web"),
  ];
  const sends = (...q: string[]) => ({ actions: ["sqs:SendMessage"], resources: q.map((x) => `queue/${x}`) });
  const consumes = (q: string) => ({
    actions: ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
    resources: [`queue/${q}`],
  });
  const table = (...a: string[]) => ({ actions: a.map((x) => `dynamodb:${x}`), resources: ["table"] });
  const secrets = (...names: string[]) => ({ actions: ["secretsmanager:GetSecretValue"], resources: names.map(secret) });
  const token = { actions: ["ecr:GetAuthorizationToken"], resources: ["*"] };
  const all = ["plan", "copy", "merge"];
  const want: Record<(typeof FUNCTIONS)[number], Readable[]> = {
    Api: [table("GetItem", "PutItem", "Query", "UpdateItem"), { actions: ["dynamodb:Query"], resources: ["table/index/gsi1"] }, sends(...all)],
    Webhook: [
      table("GetItem", "PutItem"),
      sends("plan"),
      secrets("webhook"),
      // ECR push events that still fail after Lambda's retries (asynchronous invocations).
      { actions: ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"], resources: ["dlq/ecr-events"] },
    ],
    Plan: [
      table("BatchWriteItem", "GetItem", "PutItem", "Query", "UpdateItem"),
      sends(...all),
      secrets("registry", "cosign"),
      { actions: ECR_READ, resources: [...sources, ...destinations] },
      token,
      consumes("plan"),
    ],
    Copy: [
      table("DeleteItem", "GetItem", "PutItem", "Query", "UpdateItem"),
      sends(...all),
      secrets("registry"),
      { actions: ECR_READ, resources: sources },
      { actions: [...ECR_READ, ...ECR_PUSH], resources: destinations },
      token,
      consumes("copy"),
    ],
    Merge: [
      table("GetItem", "Query", "UpdateItem"),
      sends(...all),
      secrets("registry"),
      { actions: ECR_READ, resources: sources },
      { actions: [...ECR_READ, ...ECR_PUSH], resources: destinations },
      token,
      consumes("merge"),
    ],
    Backfill: [
      table("DeleteItem", "GetItem", "PutItem", "UpdateItem"),
      sends("plan"),
      secrets("registry"),
      { actions: ECR_READ, resources: [...sources, ...destinations] },
      token,
    ],
    Reconcile: [
      table("GetItem", "UpdateItem"),
      { actions: ["dynamodb:Query"], resources: ["table/index/active"] },
      { actions: ["sqs:GetQueueAttributes", "sqs:SendMessage"], resources: all.map((q) => `queue/${q}`) },
    ],
  };

  for (const fn of FUNCTIONS) {
    it(`${fn}: exactly its statements (actions and resources)`, () => {
      assert.deepEqual(statementsOf(t, fn), sorted(want[fn]));
    });
  }

  it("the webhook function reads webhook secrets only, never a registry's credentials or a gate key", () => {
    const read = statementsOf(t, "Webhook")
      .filter((s) => s.actions.some((a) => a.startsWith("secretsmanager:")))
      .flatMap((s) => s.resources);
    assert.deepEqual(read, [secret("webhook")]);
  });

  it("plan and backfill never push; only copy and merge do, and only to the destination repositories", () => {
    for (const fn of FUNCTIONS) {
      const pushes = statementsOf(t, fn).filter((s) => s.actions.some((a) => ECR_PUSH.includes(a)));
      if (fn === "Copy" || fn === "Merge")
        assert.deepEqual(
          pushes.flatMap((s) => s.resources),
          [...destinations].sort(),
          fn,
        );
      else assert.deepEqual(pushes, [], fn);
    }
  });

  it("an ECR source is read on exactly its repository by plan, copy, merge and backfill, and by no other function", () => {
    const api = repo("123456789012", "us-east-1", "apps/api");
    for (const fn of FUNCTIONS) {
      const reads = statementsOf(t, fn).filter((s) => s.resources.includes(api));
      if (["Plan", "Copy", "Merge", "Backfill"].includes(fn))
        assert.deepEqual(
          reads.map((s) => s.actions),
          [ECR_READ],
          fn,
        );
      else assert.deepEqual(reads, [], fn);
    }
  });

  it("repositories of other accounts carry those accounts and regions: a source of 555555555555, a destination of 210987654321", () => {
    const resources = statementsOf(t, "Copy").flatMap((s) => s.resources);
    assert.ok(resources.includes("arn:aws:ecr:eu-central-1:555555555555:repository/shared/*"));
    assert.ok(resources.includes("arn:aws:ecr:eu-west-1:210987654321:repository/dr/*"));
  });

  it("no function may Scan; only backfill (its cursors) and copy (a large blob's upload record) may DeleteItem; only plan batch-writes (tasks)", () => {
    for (const fn of FUNCTIONS) {
      const actions = allActions(t, fn);
      assert.ok(!actions.includes("dynamodb:Scan"), fn);
      assert.equal(actions.includes("dynamodb:DeleteItem"), fn === "Backfill" || fn === "Copy", fn);
      assert.equal(actions.includes("dynamodb:BatchWriteItem"), fn === "Plan", fn);
      assert.ok(!actions.some((a) => a.endsWith("*")), `${fn}: no action wildcard`);
    }
  });

  it("the example config: no ECR source, so nothing reads ECR beyond its destinations; destination prefixes narrowed by the sources", () => {
    const ex = templateOf();
    const copy = statementsOf(ex, "Copy").find((s) => s.actions.includes("ecr:PutImage"));
    assert.deepEqual(copy?.resources, [repo("123456789012", "us-east-1", "acme/*"), repo("123456789012", "us-east-1", "mirror/team/*")]);
    assert.equal(resourcesOf(ex, "AWS::Events::Rule").length, 0);
  });

  it("the comparison can fail: one statement more is caught", () => {
    const { s } = stack({ text: leastText });
    const fn = s.ferry.functions.webhook;
    fn.addToRolePolicy(new PolicyStatement({ actions: ["dynamodb:Scan"], resources: ["*"] }));
    assert.throws(() => assert.deepEqual(statementsOf(Template.fromStack(s), "Webhook"), sorted(want.Webhook)));
  });

  it("cdk-nag finds nothing unacknowledged, and every acknowledged pattern is a prefix of a repository the config names", () => {
    const { app } = stack({ nag: true, text: leastText });
    assert.doesNotThrow(() => app.synth());
  });
});

describe("destinations at the registry root", () => {
  const root = (source: string, destination: string) => `version: 1\nrules:\n  - name: r\n    source: ${source}\n    destinations: ["${destination}"]\n`;

  it("a name nothing bounds (`{name}` from ghcr.io/acme/*) is refused at synth with the field at fault, never granted as repository/*", () => {
    assert.throws(
      () => templateOf(root("ghcr.io/acme/*", `${HOME}/{name}`)),
      (e: unknown) => e instanceof FerryError && e.code === "INVALID_CONFIG" && e.field === "rules[0].destinations[0]",
    );
    assert.throws(
      () => templateOf(root("registry.example.com/**", `${HOME}/{repo}`)),
      (e: unknown) => e instanceof FerryError && e.code === "INVALID_CONFIG" && e.field === "rules[0].destinations[0]",
    );
  });

  it("`{repo}` at the root from registry.example.com/team/** is bounded by the source: push under team/ only", () => {
    const t = templateOf(root("registry.example.com/team/**", `${HOME}/{repo}`));
    const push = statementsOf(t, "Merge").find((s) => s.actions.includes("ecr:PutImage"));
    assert.deepEqual(push?.resources, [repo("123456789012", "us-east-1", "team/*")]);
  });

  it("literal sources give exact repositories", () => {
    const t = templateOf(root("[ghcr.io/acme/app, ghcr.io/acme/web]", `${HOME}/{name}`));
    const push = statementsOf(t, "Copy").find((s) => s.actions.includes("ecr:PutImage"));
    assert.deepEqual(push?.resources, [repo("123456789012", "us-east-1", "app"), repo("123456789012", "us-east-1", "web")]);
  });
});

describe("ECR push events", () => {
  const t = templateOf(leastText);
  const webhook = fnKey(t, "Webhook");
  const dlq = resourcesOf(t, "AWS::SQS::Queue").find(([k]) => k.includes("EcrEventsDeadLetters"))?.[0];

  it("a rule per ECR source registry: successful pushes to the repositories the rules read, in that account and region", () => {
    const patterns = resourcesOf(t, "AWS::Events::Rule").map(([, r]) => r.Properties.EventPattern);
    const pattern = (account: string, region: string, names: unknown[]) => ({
      source: ["aws.ecr"],
      "detail-type": ["ECR Image Action"],
      account: [account],
      region: [region],
      detail: { "action-type": ["PUSH"], result: ["SUCCESS"], "repository-name": names },
    });
    assert.deepEqual(patterns, [pattern("123456789012", "us-east-1", ["apps/api"]), pattern("555555555555", "eu-central-1", [{ wildcard: "shared/*" }])]);
  });

  it("each rule invokes the webhook function (IAM, no connection secret), retries 24 h, and keeps what it cannot deliver", () => {
    for (const [key, r] of resourcesOf(t, "AWS::Events::Rule")) {
      assert.deepEqual(r.Properties.Targets, [
        {
          Arn: { "Fn::GetAtt": [webhook, "Arn"] },
          Id: "Target0",
          DeadLetterConfig: { Arn: { "Fn::GetAtt": [dlq, "Arn"] } },
          RetryPolicy: { MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 },
        },
      ]);
      t.hasResourceProperties("AWS::Lambda::Permission", {
        Action: "lambda:InvokeFunction",
        FunctionName: { "Fn::GetAtt": [webhook, "Arn"] },
        Principal: "events.amazonaws.com",
        SourceArn: { "Fn::GetAtt": [key, "Arn"] },
      });
    }
    assert.equal(resourcesOf(t, "AWS::Events::Connection").length, 0);
    assert.equal(resourcesOf(t, "AWS::Events::ApiDestination").length, 0);
    t.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
      FunctionName: { Ref: webhook },
      DestinationConfig: { OnFailure: { Destination: { "Fn::GetAtt": [dlq, "Arn"] } } },
    });
    t.hasResourceProperties("AWS::CloudWatch::Alarm", { Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [dlq, "QueueName"] } }] });
  });

  it("the default bus accepts aws.ecr events from the other account (555555555555), not from its own", () => {
    const policies = resourcesOf(t, "AWS::Events::EventBusPolicy").map(([, p]) => p.Properties);
    assert.equal(policies.length, 1);
    const [policy] = policies as Array<{ EventBusName: string; Statement: Record<string, unknown> }>;
    assert.equal(policy?.EventBusName, "default");
    assert.deepEqual(policy?.Statement.Principal, { AWS: { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":iam::555555555555:root"]] } });
    assert.equal(policy?.Statement.Action, "events:PutEvents");
    assert.deepEqual(policy?.Statement.Condition, { StringEquals: { "events:source": "aws.ecr" } });
  });

  it("a source glob of every repository (`/**`) filters by account and region only", () => {
    const tt = templateOf(`version: 1\nrules:\n  - { name: all, source: "${HOME}/**", destinations: ["registry.example.com/{repo}"] }\n`);
    const rules = resourcesOf(tt, "AWS::Events::Rule");
    assert.equal(rules.length, 1);
    assert.deepEqual((rules[0]?.[1].Properties.EventPattern as { detail?: unknown } | undefined)?.detail, { "action-type": ["PUSH"], result: ["SUCCESS"] });
    assert.equal(resourcesOf(tt, "AWS::Events::EventBusPolicy").length, 0);
  });
});

describe("cdk-nag", () => {
  it("the AwsSolutions pack finds nothing unacknowledged", () => {
    const { app } = stack({ nag: true });
    // Validation failures make synth throw ("Validation failed"); every acknowledgement carries a reason.
    assert.doesNotThrow(() => app.synth());
  });

  it("nor with an alarm e-mail and a custom pipeline", () => {
    const { app } = stack({ nag: true, text: withConfig("alarms: { email: ops@example.com }\npipeline: { maxReceiveCount: 7, reconcileEvery: 300 }") });
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

  it("is at most 2 MB (the AWS SDK inside), processes a real SQS batch against the stand-ins, and resumes a large layer over deliveries", {
    timeout: 300_000,
  }, async (t) => {
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
    assert.ok(size <= 2 * 1024 * 1024, `copy bundle is ${size} bytes`);
    const { runBundledCopy, runBundledResumableCopy } = await import("../helpers/bundled-copy.ts");
    await runBundledCopy(bundle);
    // A layer longer than an invocation: over several deliveries, each resuming where the last stopped.
    const r = await runBundledResumableCopy(bundle);
    t.diagnostic(`bundled handler: ${r.size} bytes over ${r.invocations} invocations, source bytes read ${r.read} (${(r.read / r.size).toFixed(3)}×)`);
    assert.ok(r.invocations >= 2, `${r.invocations} invocations`);
    assert.ok(r.read <= r.size * 1.1, `read ${r.read} bytes for a ${r.size}-byte layer`);
  });
});

describe("the status page (api.statusPage)", () => {
  const tokenArn = secret("status-page");
  const t = templateOf(withConfig(`api: { statusPage: { tokenSecretArn: "${tokenArn}" } }`));
  const routes = () =>
    (Object.values(t.findResources("AWS::ApiGatewayV2::Route")) as Res[]).map(
      (r) => [String(r.Properties.RouteKey), String(r.Properties.AuthorizationType)] as const,
    );

  it("its routes go to the API function without a gateway authorizer; /replications keeps IAM", () => {
    const page = [
      "GET /",
      "POST /login",
      "POST /logout",
      "GET /ui/app.css",
      "GET /ui/app.js",
      "GET /ui/jobs",
      "GET /ui/jobs/{id}",
      "POST /ui/jobs/{id}/{action}",
      "GET /dead-letters",
    ];
    const got = new Map(routes());
    for (const r of page) assert.equal(got.get(r), "NONE", r);
    for (const r of ["GET /replications", "POST /replications", "POST /replications/{id}/redrive", "POST /replications/{id}/fail"])
      assert.equal(got.get(r), "AWS_IAM", r);
    const stage = Object.values(t.findResources("AWS::ApiGatewayV2::Stage"))[0] as Res;
    assert.ok((stage.Properties.RouteSettings as Record<string, unknown>)["GET /ui/jobs"], "throttled per route like /replications");
  });

  it("the API function may read the token secret and peek the three DLQs, nothing more; only it gets their URLs", () => {
    const added = statementsOf(t, "Api").filter((s) => s.actions.some((a) => a.startsWith("secretsmanager:") || a === "sqs:ReceiveMessage"));
    const dlqs = added.find((s) => s.actions.includes("sqs:ReceiveMessage"));
    assert.deepEqual(dlqs?.actions, ["sqs:GetQueueAttributes", "sqs:ReceiveMessage"]);
    assert.equal(dlqs?.resources.length, 3);
    for (const r of dlqs?.resources ?? []) assert.match(r, /(plan|copy|merge)Dlq[0-9A-F]{8}$/);
    assert.deepEqual(
      added.find((s) => s.actions.includes("secretsmanager:GetSecretValue")),
      { actions: ["secretsmanager:GetSecretValue"], resources: [tokenArn] },
    );
    for (const fn of FUNCTIONS) {
      const fnRes = resourcesOf(t, "AWS::Lambda::Function").find(([k]) => k === fnKey(t, fn));
      const env = (fnRes?.[1].Properties.Environment as { Variables: Record<string, unknown> } | undefined)?.Variables ?? {};
      assert.equal("FERRY_DLQ_PLAN_URL" in env, fn === "Api", fn);
    }
    assert.ok(!allActions(t, "Api").includes("sqs:DeleteMessage"), "peeks never delete");
  });

  it("without it: no page route, and the API function touches no DLQ", () => {
    const plain = templateOf();
    const keys = (Object.values(plain.findResources("AWS::ApiGatewayV2::Route")) as Res[]).map((r) => String(r.Properties.RouteKey));
    assert.ok(!keys.some((k) => k.includes("/ui/") || k === "GET /" || k.includes("/login")), keys.join(", "));
    assert.ok(!allActions(plain, "Api").includes("sqs:ReceiveMessage"));
  });
});

describe("delete propagation on ECR", () => {
  const text = (deletes: string) =>
    `version: 1\nrules:\n  - name: keep\n    source: registry.example.com/team/**\n    destinations: ["${HOME}/mirror/{repo}"]\n  - name: follow\n    source: registry.example.com/apps/**\n    destinations: ["${HOME}/apps/{repo}"]\n${deletes}`;

  it("only plan, which runs delete jobs, may delete, and only in the destinations of rules with deletes: propagate", () => {
    const t = templateOf(text("    deletes: { mode: propagate, delay: 60 }\n"));
    const deleting = FUNCTIONS.filter((fn) => allActions(t, fn).includes("ecr:BatchDeleteImage"));
    assert.deepEqual(deleting, ["Plan"]);
    const grant = statementsOf(t, "Plan").find((s) => s.actions.includes("ecr:BatchDeleteImage"));
    assert.deepEqual(grant, { actions: ["ecr:BatchDeleteImage"], resources: [repo("123456789012", "us-east-1", "apps/apps/*")] });
  });

  it("no rule with deletes: no function may delete", () => {
    const t = templateOf(text(""));
    assert.deepEqual(
      FUNCTIONS.filter((fn) => allActions(t, fn).includes("ecr:BatchDeleteImage")),
      [],
    );
  });
});
