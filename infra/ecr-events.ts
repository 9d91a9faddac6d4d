/**
 * ECR push events end to end: ECR publishes `ECR Image Action` events to the default event bus of
 * the repository's account and region. A rule per ECR source registry (its account, region and the
 * repository names the rules' sources cover) invokes the webhook function directly: authenticated
 * by IAM (the function's resource policy names the rule), so there is no secret to keep in
 * EventBridge, and the webhook path's validation and rule matching run on every event. Undelivered
 * events (EventBridge retries up to 24 h) and invocations that still fail after Lambda's retries
 * land in one dead-letter queue with an alarm.
 *
 * A source registry in another account (or region) forwards its events to this bus with a rule of
 * its own (the user's part; see README); this bus accepts `aws.ecr` events from those accounts.
 */
import { Duration, Names, Stack, Token, Validations } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { CfnEventBusPolicy, Rule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { SqsDestination } from "aws-cdk-lib/aws-lambda-destinations";
import type { ITopic } from "aws-cdk-lib/aws-sns";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import type { EcrEventSource } from "./ecr.ts";

/** EventBridge's own delivery retries (its defaults, stated): 185 attempts within 24 hours. */
const DELIVERY = { retryAttempts: 185, maxEventAge: Duration.hours(24) };

export interface EcrPushEventsProps {
  sources: EcrEventSource[];
  /** The function that takes the events (the webhook function: validation and rule matching). */
  target: IFunction;
  alarmTopic: ITopic;
}

export interface EcrPushEvents {
  rules: Rule[];
  deadLetterQueue: Queue;
}

/** The event pattern of pushes to `s`'s repositories (every repository when it names none). */
export function ecrPushPattern(s: EcrEventSource) {
  return {
    source: ["aws.ecr"],
    detailType: ["ECR Image Action"],
    account: [s.account],
    region: [s.region],
    detail: {
      "action-type": ["PUSH"],
      result: ["SUCCESS"],
      ...(s.repositoryNames.length > 0 ? { "repository-name": s.repositoryNames } : {}),
    },
  };
}

/** The rules, the dead-letter queue and its alarm, and the bus policy for other accounts; undefined when no rule reads from ECR. */
export function ecrPushEvents(scope: Construct, props: EcrPushEventsProps): EcrPushEvents | undefined {
  if (props.sources.length === 0) return undefined;
  const stack = Stack.of(scope);
  const deadLetterQueue = new Queue(scope, "EcrEventsDeadLetters", {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  Validations.of(deadLetterQueue).acknowledge({
    id: "AwsSolutions-SQS3",
    reason: "This queue is itself a dead-letter queue: of the ECR push-event rules' targets and of the webhook function's asynchronous invocations.",
  });
  // EventBridge invokes asynchronously: a failed invocation is retried by Lambda, then kept here.
  props.target.configureAsyncInvoke({ onFailure: new SqsDestination(deadLetterQueue), retryAttempts: 2, maxEventAge: Duration.hours(6) });
  const rules = props.sources.map(
    (s, i) =>
      new Rule(scope, `EcrPush${i}`, {
        description: `ferry: image pushes to ${s.host}`,
        eventPattern: ecrPushPattern(s),
        targets: [new LambdaFunction(props.target, { deadLetterQueue, ...DELIVERY })],
      }),
  );
  // Other accounts' events reach this bus only if its policy lets them put them (ECR's, no others).
  const foreign = [...new Set(props.sources.map((s) => s.account))].filter((a) => Token.isUnresolved(stack.account) || a !== stack.account);
  for (const account of foreign) {
    new CfnEventBusPolicy(scope, `EcrEventsFrom${account}`, {
      eventBusName: "default",
      statementId: `${Names.uniqueResourceName(scope, { maxLength: 48 })}-ecr-${account}`,
      statement: {
        Sid: `ferry-ecr-${account}`,
        Effect: "Allow",
        Principal: { AWS: `arn:${stack.partition}:iam::${account}:root` },
        Action: "events:PutEvents",
        Resource: stack.formatArn({ service: "events", resource: "event-bus", resourceName: "default" }),
        Condition: { StringEquals: { "events:source": "aws.ecr" } },
      },
    });
  }
  const alarm = new cloudwatch.Alarm(scope, "EcrEventsDeadLettersAlarm", {
    metric: deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
    threshold: 0,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    alarmDescription: "ferry: ECR push events that were not delivered or not processed",
  });
  alarm.addAlarmAction(new SnsAction(props.alarmTopic));
  alarm.addOkAction(new SnsAction(props.alarmTopic));
  return { rules, deadLetterQueue };
}
