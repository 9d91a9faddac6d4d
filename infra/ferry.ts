/**
 * The `Ferry` construct: ferry's pipeline on AWS, the same handlers `ferry serve` runs.
 * HTTP API (webhooks verified in the function; /replications with IAM auth), SQS queues with DLQs,
 * Lambda functions bundled with the local esbuild (no Docker), a DynamoDB table, an EventBridge
 * Scheduler schedule per backfill rule, least-privilege grants, alarms and a dashboard.
 */
import { fileURLToPath } from "node:url";
import { type CfnResource, Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import { HttpApi, HttpMethod, type CfnStage } from "aws-cdk-lib/aws-apigatewayv2";
import { HttpIamAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import { AttributeType, TableV2 } from "aws-cdk-lib/aws-dynamodb";
import { Effect, PolicyStatement } from "aws-cdk-lib/aws-iam";
import { Architecture, Runtime } from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Schedule, ScheduleExpression, ScheduleTargetInput } from "aws-cdk-lib/aws-scheduler";
import { LambdaInvoke } from "aws-cdk-lib/aws-scheduler-targets";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import type { FerryConfig } from "../lib/config.ts";

export interface FerryProps {
  /** The parsed config (rules, webhooks, registries) and its YAML text, passed to the functions. */
  config: FerryConfig;
  configText: string;
  /** Concurrent copy invocations at most (the fan-out). Default 20. */
  copyMaxConcurrency?: number;
  /** Copy function memory in MB (1769 MB = one full vCPU). Default 1769. */
  copyMemoryMb?: number;
  /** Stage throttling for the HTTP API. Defaults 50 requests/s, bursts of 100. */
  apiRateLimit?: number;
  apiBurstLimit?: number;
}

type FnName = "api" | "webhook" | "plan" | "copy" | "merge" | "backfill";

const FUNCTIONS_DIR = fileURLToPath(new URL("../functions/", import.meta.url));

/** Per function: memory (MB) and timeout. copy may run up to Lambda's 15 minutes. */
const SIZING: Record<FnName, { memory: number; timeout: Duration }> = {
  api: { memory: 256, timeout: Duration.seconds(29) },
  webhook: { memory: 256, timeout: Duration.seconds(10) },
  plan: { memory: 512, timeout: Duration.seconds(120) },
  copy: { memory: 1769, timeout: Duration.minutes(15) },
  merge: { memory: 512, timeout: Duration.minutes(3) },
  backfill: { memory: 512, timeout: Duration.minutes(15) },
};

export class Ferry extends Construct {
  readonly table: TableV2;
  readonly queues: Record<"plan" | "copy" | "merge", Queue>;
  readonly deadLetterQueues: Record<"plan" | "copy" | "merge", Queue>;
  readonly functions: Record<FnName, NodejsFunction>;
  readonly api: HttpApi;
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: FerryProps) {
    super(scope, id);
    const { config } = props;

    this.table = new TableV2(this, "Jobs", {
      partitionKey: { name: "pk", type: AttributeType.STRING },
      sortKey: { name: "sk", type: AttributeType.STRING },
      timeToLiveAttribute: "ttl",
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      globalSecondaryIndexes: [
        { indexName: "gsi1", partitionKey: { name: "gsi1pk", type: AttributeType.STRING }, sortKey: { name: "gsi1sk", type: AttributeType.STRING } },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const fn = (name: FnName) => {
      const logGroup = new LogGroup(this, `${name}Logs`, { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
      return new NodejsFunction(this, `${name[0]?.toUpperCase()}${name.slice(1)}Function`, {
        entry: `${FUNCTIONS_DIR}${name}.ts`,
        handler: "handler",
        runtime: Runtime.NODEJS_22_X,
        architecture: Architecture.ARM_64,
        memorySize: name === "copy" ? (props.copyMemoryMb ?? SIZING.copy.memory) : SIZING[name].memory,
        timeout: SIZING[name].timeout,
        logGroup,
        bundling: {
          format: OutputFormat.ESM,
          target: "node22",
          minify: true,
          sourceMap: true,
          externalModules: ["@aws-sdk/*"], // in the Lambda runtime
          banner: "import { createRequire as __ferryRequire } from 'module'; const require = __ferryRequire(import.meta.url);",
        },
        environment: {
          NODE_OPTIONS: "--enable-source-maps",
          POWERTOOLS_SERVICE_NAME: "ferry",
          POWERTOOLS_METRICS_NAMESPACE: "ferry",
          POWERTOOLS_LOG_LEVEL: "INFO",
          FERRY_CONFIG: props.configText,
          FERRY_TABLE: this.table.tableName,
          FERRY_MAX_RECEIVE_COUNT: String(config.pipeline.maxReceiveCount),
        },
      });
    };
    this.functions = { api: fn("api"), webhook: fn("webhook"), plan: fn("plan"), copy: fn("copy"), merge: fn("merge"), backfill: fn("backfill") };

    const queue = (name: "plan" | "copy" | "merge", consumer: FnName) => {
      const dlq = new Queue(this, `${name}Dlq`, { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14) });
      // Visibility ≥ 6 × the consumer's timeout, as AWS advises for Lambda event sources.
      const q = new Queue(this, `${name}Queue`, {
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        visibilityTimeout: Duration.seconds(SIZING[consumer].timeout.toSeconds() * 6),
        deadLetterQueue: { queue: dlq, maxReceiveCount: config.pipeline.maxReceiveCount },
      });
      return { q, dlq };
    };
    const plan = queue("plan", "plan");
    const copy = queue("copy", "copy");
    const merge = queue("merge", "merge");
    this.queues = { plan: plan.q, copy: copy.q, merge: merge.q };
    this.deadLetterQueues = { plan: plan.dlq, copy: copy.dlq, merge: merge.dlq };

    const f = this.functions;
    const tableId = Stack.of(this).getLogicalId(this.table.node.defaultChild as CfnResource);
    for (const g of Object.values(f)) {
      Validations.of(g).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${tableId}.Arn>/index/*]`,
        reason: "Read/write on the job table includes its GSI (gsi1, recent jobs), which IAM names as table/index/*.",
      });
      Validations.of(g).acknowledge({
        id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        reason: "The managed basic execution role only lets the function write its own CloudWatch logs.",
      });
      g.addEnvironment("FERRY_QUEUE_PLAN_URL", plan.q.queueUrl);
      g.addEnvironment("FERRY_QUEUE_COPY_URL", copy.q.queueUrl);
      g.addEnvironment("FERRY_QUEUE_MERGE_URL", merge.q.queueUrl);
      this.table.grantReadWriteData(g);
    }
    // Each stage may send only to the queue after it.
    for (const g of [f.api, f.webhook, f.backfill]) plan.q.grantSendMessages(g);
    plan.q.grantSendMessages(f.plan); // a duplicate of a queued job re-sends its plan
    copy.q.grantSendMessages(f.plan);
    merge.q.grantSendMessages(f.copy);
    const source = (q: Queue, batchSize: number, maxConcurrency: number) =>
      new SqsEventSource(q, { batchSize, reportBatchItemFailures: true, maxConcurrency });
    f.plan.addEventSource(source(plan.q, 5, 5));
    f.copy.addEventSource(source(copy.q, 1, props.copyMaxConcurrency ?? 20));
    f.merge.addEventSource(source(merge.q, 5, 5));

    // Registry credentials and webhook secrets from Secrets Manager, read by the functions that use them.
    const arns = [...config.registries.map((r) => r.secretArn), ...config.webhooks.map((w) => w.secretArn)].filter((a): a is string => !!a);
    arns.forEach((arn, i) => {
      const secret = Secret.fromSecretCompleteArn(this, `Secret${i}`, arn);
      for (const g of Object.values(f)) secret.grantRead(g);
    });

    // ECR destinations: push rights on exactly those repositories, and the account's auth token.
    const ecrRepos = config.rules.flatMap((r) =>
      r.destinations
        .map((d) => /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?\/(.+)$/.exec(d))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => `arn:${m[3] ? "aws-cn" : "aws"}:ecr:${m[2]}:${m[1]}:repository/${(m[4] ?? "").replace(/\{[a-z]+\}.*$/, "*")}`),
    );
    if (ecrRepos.length > 0) {
      for (const g of [f.copy, f.merge, f.plan, f.backfill]) {
        g.addToRolePolicy(
          new PolicyStatement({
            effect: Effect.ALLOW,
            actions: ["ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            resources: [...new Set(ecrRepos)],
          }),
        );
        for (const arn of new Set(ecrRepos)) {
          if (arn.endsWith("*")) {
            Validations.of(g).acknowledge({ id: `AwsSolutions-IAM5[Resource::${arn}]`, reason: "The rule's destination template ({repo}/{name}) names repositories under this prefix only." });
          }
        }
        // GetAuthorizationToken has no resource-level permissions: AWS requires "*".
        g.addToRolePolicy(new PolicyStatement({ effect: Effect.ALLOW, actions: ["ecr:GetAuthorizationToken"], resources: ["*"] }));
        Validations.of(g).acknowledge({ id: "AwsSolutions-IAM5[Resource::*]", reason: "ecr:GetAuthorizationToken supports no resource-level permissions." });
      }
    }

    // HTTP API: webhooks are verified by the function (senders cannot do SigV4); /replications uses IAM.
    this.api = new HttpApi(this, "Api", { description: "ferry: replications and registry webhooks" });
    const iam = new HttpIamAuthorizer();
    this.api.addRoutes({ path: "/webhooks/{provider}/{id}", methods: [HttpMethod.POST], integration: new HttpLambdaIntegration("Webhook", f.webhook) });
    const replications = new HttpLambdaIntegration("Replications", f.api);
    this.api.addRoutes({ path: "/replications", methods: [HttpMethod.POST, HttpMethod.GET], integration: replications, authorizer: iam });
    this.api.addRoutes({ path: "/replications/{id}", methods: [HttpMethod.GET], integration: replications, authorizer: iam });
    const stage = this.api.defaultStage?.node.defaultChild as CfnStage;
    const accessLogs = new LogGroup(this, "ApiAccessLogs", { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    stage.defaultRouteSettings = { throttlingRateLimit: props.apiRateLimit ?? 50, throttlingBurstLimit: props.apiBurstLimit ?? 100 };
    stage.accessLogSettings = {
      destinationArn: accessLogs.logGroupArn,
      format: JSON.stringify({ requestId: "$context.requestId", ip: "$context.identity.sourceIp", route: "$context.routeKey", status: "$context.status", latency: "$context.responseLatency" }),
    };

    // A schedule per backfill rule: the backfill function with {"rule": name}.
    for (const rule of config.rules) {
      if (!rule.backfill) continue;
      new Schedule(this, `Backfill-${rule.name}`, {
        schedule: ScheduleExpression.expression(rule.backfill.schedule),
        target: new LambdaInvoke(f.backfill, { input: ScheduleTargetInput.fromObject({ rule: rule.name }) }),
        description: `ferry backfill for rule ${rule.name}`,
      });
    }
    const backfillId = Stack.of(this).getLogicalId(f.backfill.node.defaultChild as CfnResource);
    Validations.of(Stack.of(this)).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${backfillId}.Arn>:*]`,
      reason: "The scheduler's role may invoke the backfill function's versions and aliases (function ARN + ':*'), nothing else.",
    });

    // Alarms: anything in a DLQ, function errors, throttles. A dashboard: jobs by outcome, bytes, durations.
    for (const [name, dlq] of Object.entries(this.deadLetterQueues)) {
      new cloudwatch.Alarm(this, `${name}DlqAlarm`, {
        metric: dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        alarmDescription: `ferry: messages in the ${name} dead-letter queue`,
      });
    }
    for (const [name, g] of Object.entries(f)) {
      new cloudwatch.Alarm(this, `${name}ErrorsAlarm`, { metric: g.metricErrors({ period: Duration.minutes(5) }), threshold: 1, evaluationPeriods: 1, alarmDescription: `ferry: ${name} function errors` });
      new cloudwatch.Alarm(this, `${name}ThrottlesAlarm`, { metric: g.metricThrottles({ period: Duration.minutes(5) }), threshold: 1, evaluationPeriods: 1, alarmDescription: `ferry: ${name} function throttled` });
    }
    const m = (name: string, stat = "Sum") => new cloudwatch.Metric({ namespace: "ferry", metricName: name, dimensionsMap: { service: "ferry" }, statistic: stat, period: Duration.minutes(5) });
    this.dashboard = new cloudwatch.Dashboard(this, "Dashboard", { dashboardName: `ferry-${id}` });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: "Jobs by outcome", left: [m("jobs_succeeded"), m("jobs_failed"), m("jobsPlanned")] }),
      new cloudwatch.GraphWidget({ title: "Bytes copied", left: [m("bytesCopied")] }),
      new cloudwatch.GraphWidget({ title: "Copy duration (ms)", left: [m("copyDuration", "Average"), m("copyDuration", "p95")] }),
      new cloudwatch.GraphWidget({ title: "Blobs", left: [m("blobsCopied"), m("blobsSkipped"), m("blobsMounted")] }),
    );
  }
}
