/**
 * Notifications by SNS: a job's end published to a topic (`notifications: [{sns: <topic ARN>}]`),
 * the same JSON body a URL gets, with a Subject (e-mail subscriptions show it) and message
 * attributes `status` and `code` (and `rule`), so a subscription's filter policy can take
 * failures only, or one code. The SDK is loaded on the first publish, so a config without SNS
 * never loads it; the client uses the SDK's credential chain (on Lambda, the function's role).
 */
import type { FerryConfig } from "../config.ts";
import type { Job } from "../state/store.ts";

export type SnsTarget = Extract<FerryConfig["notifications"][number], { sns: string }>;

interface Attribute {
  DataType: "String";
  StringValue: string;
}

/** What `PublishCommand` takes, as built for one job's end. */
export interface SnsPublishInput {
  TopicArn: string;
  Message: string;
  Subject: string;
  MessageAttributes: Record<string, Attribute>;
  MessageGroupId?: string;
  MessageDeduplicationId?: string;
}

/** The topic's region: the fourth field of its ARN. */
export function topicRegion(arn: string): string {
  return arn.split(":")[3] ?? "";
}

/** SNS wants a Subject of at most 100 printable ASCII characters, with no line break. */
function subjectOf(text: string): string {
  const ascii = text.replace(/[^\x20-\x7e]/g, "?");
  return ascii.length <= 100 ? ascii : `${ascii.slice(0, 99)}~`;
}

/** The Publish request for `job`'s end with `body` (notificationOf's). FIFO topics get the job as group and its end as deduplication id. */
export function snsPublishInput(target: SnsTarget, job: Job, body: Record<string, unknown>): SnsPublishInput {
  const attr = (v: string): Attribute => ({ DataType: "String", StringValue: v });
  const code = job.status === "failed" ? job.error?.code : undefined;
  const fifo = target.sns.endsWith(".fifo");
  return {
    TopicArn: target.sns,
    Message: JSON.stringify(body),
    Subject: subjectOf(`ferry: job ${job.id} ${job.status}${code ? ` [${code}]` : ""}: ${job.request.source}`),
    MessageAttributes: {
      status: attr(job.status),
      ...(code ? { code: attr(code) } : {}),
      ...(job.request.rule ? { rule: attr(job.request.rule) } : {}),
    },
    ...(fifo ? { MessageGroupId: job.id, MessageDeduplicationId: `${job.id}.${job.status}` } : {}),
  };
}

type Sns = typeof import("@aws-sdk/client-sns");

/**
 * The SDK's module. Where a bundle maps the package to its CommonJS build (the CLI's, scripts/build.mjs),
 * `import()` yields the exports under `default`; the Lambda bundles take its ES module build.
 */
async function loadSdk(): Promise<Sns> {
  const m = (await import("@aws-sdk/client-sns")) as Sns & { default?: Sns };
  return typeof m.SNSClient === "function" ? m : (m.default as Sns);
}

/** Publishes one message; resolves to whether SNS took it. */
export type SnsPublish = (target: SnsTarget, input: SnsPublishInput) => Promise<boolean>;

/**
 * A publisher with one client per region and endpoint, made on first use and kept (clients are
 * safe to share between invocations). The SDK retries throttling and 5xx answers itself.
 */
export function snsPublisher(onError: (target: SnsTarget, e: unknown) => void): SnsPublish {
  let sdk: Promise<Sns> | undefined;
  const clients = new Map<string, InstanceType<Sns["SNSClient"]>>();
  return async (target, input) => {
    try {
      sdk ??= loadSdk();
      const { SNSClient, PublishCommand } = await sdk;
      const region = topicRegion(target.sns);
      const key = `${region} ${target.endpoint ?? ""}`;
      let client = clients.get(key);
      if (!client) {
        client = new SNSClient({ region, maxAttempts: 3, ...(target.endpoint ? { endpoint: target.endpoint } : {}) });
        clients.set(key, client);
      }
      await client.send(new PublishCommand(input));
      return true;
    } catch (e) {
      onError(target, e);
      return false;
    }
  };
}
