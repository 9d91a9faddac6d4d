/**
 * The `Ferry` construct: ferry's pipeline on AWS, the same handlers `ferry serve` runs.
 * HTTP API (webhooks verified in the function; /replications with IAM auth), SQS queues with DLQs,
 * Lambda functions bundled with the local esbuild (no Docker), a DynamoDB table, an EventBridge
 * Scheduler schedule per backfill rule, a scheduled reconciler that drives on or fails jobs that
 * stopped moving, least-privilege grants, alarms on one encrypted SNS topic, and a dashboard.
 */
import { fileURLToPath } from "node:url";
import { ArnFormat, type CfnResource, Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import { HttpApi, HttpMethod, type CfnStage } from "aws-cdk-lib/aws-apigatewayv2";
import { HttpIamAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { AttributeType, ProjectionType, TableV2 } from "aws-cdk-lib/aws-dynamodb";
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import { Architecture, Runtime } from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Schedule, ScheduleExpression, ScheduleTargetInput } from "aws-cdk-lib/aws-scheduler";
import { LambdaInvoke } from "aws-cdk-lib/aws-scheduler-targets";
import { Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import type { FerryConfig } from "../lib/config.ts";
import type { ISecret } from "aws-cdk-lib/aws-secretsmanager";
import { CONFIG_FILE_NAME, configBundlingHooks } from "./config-asset.ts";
import { checkEnvironmentSize } from "./lambda-env.ts";
import { wireSecretEnv } from "./secret-env.ts";
import { assertDeployable, secretEnvUses } from "./secrets-check.ts";
import { ecrAccessOf } from "./ecr.ts";
import { ecrPushEvents } from "./ecr-events.ts";
import { grantLeastPrivilege, JOB_ENDERS } from "./iam.ts";
import { oldestActiveJobAgeThreshold, oldestMessageAgeThreshold, reconcileRateMinutes, stuckAfterSeconds } from "./thresholds.ts";

export interface FerryProps {
  /**
   * The parsed config (rules, webhooks, registries). The functions get it as a file in their
   * bundles (infra/config-asset.ts); a config with inline secrets is refused (infra/secrets-check.ts).
   */
  config: FerryConfig;
  /**
   * The secrets behind every environment variable the config names (`secretEnv`, `usernameEnv`,
   * `passwordEnv`, a key's `{ env }`), by name: each function that needs one reads it from Secrets
   * Manager at cold start. A name the config uses and this map lacks (or the reverse) is refused.
   */
  secretEnv?: Record<string, ISecret>;
  /** Concurrent copy invocations at most (the fan-out). Default 20. */
  copyMaxConcurrency?: number;
  /** Copy function memory in MB (1769 MB = one full vCPU). Default 1769. */
  copyMemoryMb?: number;
  /** Stage throttling for the HTTP API. Defaults 50 requests/s, bursts of 100. */
  apiRateLimit?: number;
  apiBurstLimit?: number;
}

type FnName = "api" | "webhook" | "plan" | "copy" | "merge" | "backfill" | "reconcile";

/** Webhook routes' default throttle: requests per second and burst. */
const WEBHOOK_THROTTLE = { rate: 20, burst: 40 };
const REPLICATION_ROUTES = [
  "POST /replications",
  "GET /replications",
  "GET /replications/{id}",
  "POST /replications/{id}/redrive",
  "POST /replications/{id}/fail",
];
type Stage = "plan" | "copy" | "merge";
/**
 * The status page's routes (config `api.statusPage`), on the API function without a gateway
 * authorizer: a browser cannot sign SigV4, so the function checks its login cookie, keyed by the
 * token in Secrets Manager (lib/ui/routes.ts). /replications keeps IAM.
 */
const STATUS_PAGE_ROUTES: ReadonlyArray<readonly [string, HttpMethod]> = [
  ["/", HttpMethod.GET],
  ["/login", HttpMethod.POST],
  ["/logout", HttpMethod.POST],
  ["/ui/app.css", HttpMethod.GET],
  ["/ui/app.js", HttpMethod.GET],
  ["/ui/jobs", HttpMethod.GET],
  ["/ui/jobs/{id}", HttpMethod.GET],
  ["/ui/jobs/{id}/{action}", HttpMethod.POST],
  ["/dead-letters", HttpMethod.GET],
];

const FUNCTIONS_DIR = fileURLToPath(new URL("../functions/", import.meta.url));

/** Per function: memory (MB) and timeout. copy may run up to Lambda's 15 minutes. */
const SIZING: Record<FnName, { memory: number; timeout: Duration }> = {
  api: { memory: 256, timeout: Duration.seconds(29) },
  webhook: { memory: 256, timeout: Duration.seconds(10) },
  plan: { memory: 512, timeout: Duration.seconds(120) },
  copy: { memory: 1769, timeout: Duration.minutes(15) },
  merge: { memory: 512, timeout: Duration.minutes(3) },
  backfill: { memory: 512, timeout: Duration.minutes(15) },
  // One pass: a query per `active` shard, then a conditional write per stalled job.
  reconcile: { memory: 256, timeout: Duration.seconds(60) },
};

export class Ferry extends Construct {
  readonly table: TableV2;
  readonly queues: Record<Stage, Queue>;
  readonly deadLetterQueues: Record<Stage, Queue>;
  readonly functions: Record<FnName, NodejsFunction>;
  readonly api: HttpApi;
  readonly dashboard: cloudwatch.Dashboard;
  /** Every alarm of the construct notifies this topic (on ALARM and on OK). */
  readonly alarmTopic: Topic;

  constructor(scope: Construct, id: string, props: FerryProps) {
    super(scope, id);
    const { config } = props;
    // Refused before anything is built: inline secrets, and secrets named by environment variable
    // that no function would have (a webhook answering 401 forever).
    const secretEnv = props.secretEnv ?? {};
    assertDeployable(config, new Set(Object.keys(secretEnv)));
    const envUses = secretEnvUses(config);
    const configHooks = configBundlingHooks(this, config);

    this.table = new TableV2(this, "Jobs", {
      partitionKey: { name: "pk", type: AttributeType.STRING },
      sortKey: { name: "sk", type: AttributeType.STRING },
      timeToLiveAttribute: "ttl",
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      globalSecondaryIndexes: [
        { indexName: "gsi1", partitionKey: { name: "gsi1pk", type: AttributeType.STRING }, sortKey: { name: "gsi1sk", type: AttributeType.STRING } },
        // Sparse: only jobs not yet final carry activeShard (A#0…A#7, spreading writes), so the
        // reconciler reads the oldest active jobs per shard without scanning. Keys only: it then
        // reads each job it acts on with a consistent GetItem.
        {
          indexName: "active",
          partitionKey: { name: "activeShard", type: AttributeType.STRING },
          sortKey: { name: "createdAt", type: AttributeType.STRING },
          projectionType: ProjectionType.KEYS_ONLY,
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const fn = (name: FnName) => {
      const logGroup = new LogGroup(this, `${name}Logs`, { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
      const g = new NodejsFunction(this, `${name[0]?.toUpperCase()}${name.slice(1)}Function`, {
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
          // Stack traces need file:line only: without the sources' text the map is a third the
          // size, and --enable-source-maps loads it faster at cold start.
          sourcesContent: false,
          // The AWS SDK versions in package.json, the ones the tests run, not whichever the Lambda
          // runtime happens to carry; ESM entry points first so esbuild can tree-shake them.
          bundleAwsSDK: true,
          // The SNS client (notifications, loaded on first publish) only where jobs end.
          ...(JOB_ENDERS.has(name) ? {} : { externalModules: ["@aws-sdk/client-sns"] }),
          mainFields: ["module", "main"],
          banner: "import { createRequire as __ferryRequire } from 'module'; const require = __ferryRequire(import.meta.url);",
          commandHooks: configHooks,
        },
        environment: {
          NODE_OPTIONS: "--enable-source-maps",
          POWERTOOLS_SERVICE_NAME: "ferry",
          POWERTOOLS_METRICS_NAMESPACE: "ferry",
          POWERTOOLS_LOG_LEVEL: "INFO",
          // The config file in the bundle, relative to LAMBDA_TASK_ROOT (infra/config-asset.ts).
          FERRY_CONFIG_FILE: CONFIG_FILE_NAME,
          FERRY_TABLE: this.table.tableName,
          FERRY_MAX_RECEIVE_COUNT: String(config.pipeline.maxReceiveCount),
        },
      });
      wireSecretEnv(g, name, envUses, secretEnv);
      checkEnvironmentSize(g);
      return g;
    };
    this.functions = {
      api: fn("api"),
      webhook: fn("webhook"),
      plan: fn("plan"),
      copy: fn("copy"),
      merge: fn("merge"),
      backfill: fn("backfill"),
      reconcile: fn("reconcile"),
    };

    const queue = (name: Stage, consumer: FnName) => {
      const dlq = new Queue(this, `${name}Dlq`, { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14) });
      // Visibility ≥ 6 × the consumer's timeout, as AWS advises for Lambda event sources.
      const visibility = SIZING[consumer].timeout.toSeconds() * 6;
      // maxReceiveCount is the config's (default 5, as AWS advises for Lambda consumers); the
      // functions read the same value from FERRY_MAX_RECEIVE_COUNT to spot a message's last delivery.
      const q = new Queue(this, `${name}Queue`, {
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        visibilityTimeout: Duration.seconds(visibility),
        deadLetterQueue: { queue: dlq, maxReceiveCount: config.pipeline.maxReceiveCount },
      });
      return { q, dlq, visibility };
    };
    const plan = queue("plan", "plan");
    const copy = queue("copy", "copy");
    const merge = queue("merge", "merge");
    this.queues = { plan: plan.q, copy: copy.q, merge: merge.q };
    const stuckAfter = stuckAfterSeconds(config.pipeline, Math.max(plan.visibility, copy.visibility, merge.visibility));
    this.deadLetterQueues = { plan: plan.dlq, copy: copy.dlq, merge: merge.dlq };

    const f = this.functions;
    for (const g of Object.values(f)) {
      Validations.of(g).acknowledge({
        id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        reason: "The managed basic execution role only lets the function write its own CloudWatch logs.",
      });
      g.addEnvironment("FERRY_QUEUE_PLAN_URL", plan.q.queueUrl);
      g.addEnvironment("FERRY_QUEUE_COPY_URL", copy.q.queueUrl);
      g.addEnvironment("FERRY_QUEUE_MERGE_URL", merge.q.queueUrl);
      g.addEnvironment("FERRY_STUCK_AFTER", String(stuckAfter));
    }
    // Least privilege per function, derived from the config (infra/iam.ts, infra/ecr.ts). A
    // destination template nothing bounds is refused here, before anything is deployed.
    const ecr = ecrAccessOf(config);
    grantLeastPrivilege({
      config,
      functions: f,
      tableArn: this.table.tableArn,
      queueArns: { plan: plan.q.queueArn, copy: copy.q.queueArn, merge: merge.q.queueArn },
      deadLetterQueueArns: { plan: plan.dlq.queueArn, copy: copy.dlq.queueArn, merge: merge.dlq.queueArn },
      ecr,
    });
    // The status page peeks the DLQs (ReceiveMessage with no visibility change; never deletes).
    if (config.api.statusPage) {
      for (const [name, st] of Object.entries({ plan, copy, merge })) f.api.addEnvironment(`FERRY_DLQ_${name.toUpperCase()}_URL`, st.dlq.queueUrl);
    }
    const source = (q: Queue, batchSize: number, maxConcurrency: number) => new SqsEventSource(q, { batchSize, reportBatchItemFailures: true, maxConcurrency });
    f.plan.addEventSource(source(plan.q, 5, 5));
    f.copy.addEventSource(source(copy.q, 1, props.copyMaxConcurrency ?? 20));
    f.merge.addEventSource(source(merge.q, 5, 5));

    // Every pass runs on the schedule; a failed pass is not retried, since the next one comes within a period.
    const reconcileMinutes = reconcileRateMinutes(config.pipeline);
    f.reconcile.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(reconcileMinutes) });
    new Schedule(this, "Reconcile", {
      schedule: ScheduleExpression.rate(Duration.minutes(reconcileMinutes)),
      target: new LambdaInvoke(f.reconcile, { retryAttempts: 0, maxEventAge: Duration.minutes(reconcileMinutes) }),
      description: "ferry reconciler: re-drives or fails jobs that stopped moving",
    });

    // HTTP API: webhooks are verified by the function (senders cannot do SigV4); /replications uses IAM.
    this.api = new HttpApi(this, "Api", { description: "ferry: replications and registry webhooks" });
    const iam = new HttpIamAuthorizer();
    this.api.addRoutes({ path: "/webhooks/{provider}/{id}", methods: [HttpMethod.POST], integration: new HttpLambdaIntegration("Webhook", f.webhook) });
    const replications = new HttpLambdaIntegration("Replications", f.api);
    this.api.addRoutes({ path: "/replications", methods: [HttpMethod.POST, HttpMethod.GET], integration: replications, authorizer: iam });
    this.api.addRoutes({ path: "/replications/{id}", methods: [HttpMethod.GET], integration: replications, authorizer: iam });
    // The operator's actions on a job: re-drive it, or fail it with a reason.
    this.api.addRoutes({ path: "/replications/{id}/redrive", methods: [HttpMethod.POST], integration: replications, authorizer: iam });
    this.api.addRoutes({ path: "/replications/{id}/fail", methods: [HttpMethod.POST], integration: replications, authorizer: iam });
    const pageRoutes = config.api.statusPage ? STATUS_PAGE_ROUTES : [];
    for (const [path, method] of pageRoutes) this.api.addRoutes({ path, methods: [method], integration: replications });
    const stage = this.api.defaultStage?.node.defaultChild as CfnStage;
    const accessLogs = new LogGroup(this, "ApiAccessLogs", { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    stage.defaultRouteSettings = { throttlingRateLimit: props.apiRateLimit ?? 50, throttlingBurstLimit: props.apiBurstLimit ?? 100 };
    // Per route: a flood of (unauthenticated) webhook calls is throttled on its own route and
    // cannot starve the operators' /replications routes.
    const hooks = config.api.throttle?.webhooks ?? WEBHOOK_THROTTLE;
    const reps = config.api.throttle?.replications ?? { rate: props.apiRateLimit ?? 50, burst: props.apiBurstLimit ?? 100 };
    // RouteSettings is raw JSON to CloudFormation (CDK does not rename its keys): CloudFormation's own names.
    const limit = (t: { rate: number; burst: number }) => ({ ThrottlingRateLimit: t.rate, ThrottlingBurstLimit: t.burst });
    stage.routeSettings = {
      "POST /webhooks/{provider}/{id}": limit(hooks),
      ...Object.fromEntries(REPLICATION_ROUTES.map((r) => [r, limit(reps)])),
      ...Object.fromEntries(pageRoutes.map(([path, method]) => [`${method} ${path}`, limit(reps)])),
    };
    stage.accessLogSettings = {
      destinationArn: accessLogs.logGroupArn,
      format: JSON.stringify({
        requestId: "$context.requestId",
        ip: "$context.identity.sourceIp",
        route: "$context.routeKey",
        status: "$context.status",
        latency: "$context.responseLatency",
      }),
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
    for (const g of [f.backfill, f.reconcile]) {
      const fnId = Stack.of(this).getLogicalId(g.node.defaultChild as CfnResource);
      Validations.of(Stack.of(this)).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${fnId}.Arn>:*]`,
        reason: `The scheduler's role may invoke the ${g === f.backfill ? "backfill" : "reconcile"} function's versions and aliases (function ARN + ':*'), nothing else.`,
      });
    }

    // One topic for every alarm. Encrypted with a key of our own, not alias/aws/sns: CloudWatch
    // publishes to an encrypted topic only if the key policy lets cloudwatch.amazonaws.com use the
    // key, and an AWS-managed key's policy cannot be changed, so alarms would be dropped silently
    // (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
    // The key only protects notifications in transit through SNS, so it goes with the stack.
    const stack = Stack.of(this);
    const fromOurAlarms = {
      StringEquals: { "aws:SourceAccount": stack.account },
      ArnLike: { "aws:SourceArn": stack.formatArn({ service: "cloudwatch", resource: "alarm", resourceName: "*", arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
    };
    const cw = new ServicePrincipal("cloudwatch.amazonaws.com");
    const alarmKey = new Key(this, "AlarmTopicKey", {
      description: "ferry: encrypts alarm notifications",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    alarmKey.addToResourcePolicy(
      new PolicyStatement({ principals: [cw], actions: ["kms:Decrypt", "kms:GenerateDataKey*"], resources: ["*"], conditions: fromOurAlarms }),
    );
    this.alarmTopic = new Topic(this, "AlarmTopic", { displayName: "ferry alarms", masterKey: alarmKey, enforceSSL: true });
    // The topic policy replaces SNS's default one, so CloudWatch's right to publish is stated here.
    this.alarmTopic.addToResourcePolicy(
      new PolicyStatement({ principals: [cw], actions: ["sns:Publish"], resources: [this.alarmTopic.topicArn], conditions: fromOurAlarms }),
    );
    if (config.alarms.email) this.alarmTopic.addSubscription(new EmailSubscription(config.alarms.email));
    const notify = new SnsAction(this.alarmTopic);
    const alarm = (alarmId: string, props: cloudwatch.AlarmProps) => {
      const a = new cloudwatch.Alarm(this, alarmId, props);
      a.addAlarmAction(notify);
      a.addOkAction(notify);
      return a;
    };

    // Anything in a DLQ; function errors and throttles.
    for (const [name, dlq] of Object.entries(this.deadLetterQueues)) {
      alarm(`${name}DlqAlarm`, {
        metric: dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        alarmDescription: `ferry: messages in the ${name} dead-letter queue`,
      });
    }
    for (const [name, g] of Object.entries(f)) {
      alarm(`${name}ErrorsAlarm`, {
        metric: g.metricErrors({ period: Duration.minutes(5) }),
        threshold: 1,
        evaluationPeriods: 1,
        alarmDescription: `ferry: ${name} function errors`,
      });
      alarm(`${name}ThrottlesAlarm`, {
        metric: g.metricThrottles({ period: Duration.minutes(5) }),
        threshold: 1,
        evaluationPeriods: 1,
        alarmDescription: `ferry: ${name} function throttled`,
      });
    }

    // A message older than any still within its retries has waited unreceived: a backlog, or a stalled consumer.
    const stages = { plan, copy, merge };
    const queueAge = (q: Queue) => q.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: "Maximum" });
    for (const [name, st] of Object.entries(stages)) {
      const threshold = oldestMessageAgeThreshold(st.visibility, config.pipeline.maxReceiveCount);
      alarm(`${name}QueueAgeAlarm`, {
        metric: queueAge(st.q),
        threshold,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `ferry: the oldest ${name} message is over ${threshold} s old (visibility ${st.visibility} s × maxReceiveCount ${config.pipeline.maxReceiveCount})`,
      });
    }

    // The reconciler's view of the store (namespace and dimension as Powertools Metrics writes them).
    const m = (name: string, stat = "Sum", period = Duration.minutes(5)) =>
      new cloudwatch.Metric({ namespace: "ferry", metricName: name, dimensionsMap: { service: "ferry" }, statistic: stat, period });
    const agePeriod = Duration.minutes(Math.max(5, reconcileMinutes));
    const healthyJob = SIZING.plan.timeout.toSeconds() + SIZING.copy.timeout.toSeconds() + SIZING.merge.timeout.toSeconds();
    const ageThreshold = oldestActiveJobAgeThreshold(config.pipeline, healthyJob, stuckAfter);
    const oldestActive = m("oldestActiveJobAgeSeconds", "Maximum", agePeriod);
    alarm("OldestActiveJobAlarm", {
      metric: oldestActive,
      threshold: ageThreshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `ferry: a job has been unfinished for over ${ageThreshold} s, longer than a healthy job takes or the reconciler lets a stalled one live`,
    });
    // A job failed as STUCK was accepted and not replicated by the pipeline itself: worth a look each time.
    alarm("JobsFailedStuckAlarm", {
      metric: m("jobsFailedStuck"),
      threshold: 1,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: "ferry: the reconciler failed jobs that stopped moving (code STUCK)",
    });
    // Nobody watches the store if the schedule stops invoking the reconciler (Lambda writes no
    // Invocations datapoint for a period without any, hence missing = breaching).
    const notRunning = Math.max(5, 3 * reconcileMinutes);
    alarm("ReconcileNotRunningAlarm", {
      metric: f.reconcile.metricInvocations({ period: Duration.minutes(notRunning) }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      alarmDescription: `ferry: the reconciler has not run for ${notRunning} minutes`,
    });

    // A dashboard: jobs by outcome, failures per stage, bytes, durations, ages.
    this.dashboard = new cloudwatch.Dashboard(this, "Dashboard", { dashboardName: `ferry-${id}` });
    this.dashboard.addWidgets(
      // jobs_<status>: counted where a job's end is written, whichever path ends it (lib/pipeline/job-metrics.ts).
      new cloudwatch.GraphWidget({ title: "Jobs by outcome", left: [m("jobs_succeeded"), m("jobs_failed"), m("jobs_skipped"), m("jobsPlanned")] }),
      new cloudwatch.GraphWidget({
        title: "Failures by stage",
        left: [m("planFailed").with({ label: "plan" }), m("tasksFailed").with({ label: "copy" }), m("mergeFailed").with({ label: "merge" })],
      }),
      new cloudwatch.GraphWidget({ title: "Bytes copied", left: [m("bytesCopied")] }),
      new cloudwatch.GraphWidget({
        title: "Durations (ms)",
        left: [m("copyDuration", "Average"), m("copyDuration", "p95"), m("jobDuration", "Average"), m("jobDuration", "p95")],
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: "Blobs", left: [m("blobsCopied"), m("blobsSkipped"), m("blobsMounted")] }),
      new cloudwatch.GraphWidget({
        title: "Oldest unfinished job (s)",
        left: [oldestActive],
        leftAnnotations: [{ value: ageThreshold, label: "alarm" }],
      }),
      new cloudwatch.GraphWidget({ title: "Reconciler", left: [m("jobsRedriven"), m("jobsFailedStuck")], right: [m("activeJobs", "Maximum")] }),
      new cloudwatch.GraphWidget({
        title: "Age of oldest message (s)",
        left: Object.entries(stages).map(([name, st]) => queueAge(st.q).with({ label: name })),
      }),
    );

    // ECR push events from the rules' ECR sources, delivered to the webhook function (infra/ecr-events.ts).
    ecrPushEvents(this, { sources: ecr.eventSources, target: f.webhook, alarmTopic: this.alarmTopic });
  }
}
