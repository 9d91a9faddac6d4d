/** The SNS notification entry: what the config accepts, and the Publish request built for a job's end. */
import assert from "node:assert/strict";
import { it } from "node:test";
import { parseConfigText } from "../../lib/config.ts";
import { snsPublishInput, topicRegion } from "../../lib/pipeline/notify-sns.ts";
import { notificationOf } from "../../lib/pipeline/notify.ts";
import type { Job } from "../../lib/state/store.ts";

const notifications = (yaml: string) => parseConfigText(`version: 1\nnotifications: ${yaml}\n`, "test.yml").notifications;
const codeOf = (f: () => unknown) => {
  try {
    f();
    return "ok";
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

it("an sns entry: a topic ARN in any partition, failures by default; nothing of a URL entry's", () => {
  assert.deepEqual(notifications("[{ sns: 'arn:aws:sns:eu-west-1:123456789012:ferry' }]"), [
    { sns: "arn:aws:sns:eu-west-1:123456789012:ferry", on: ["failed"] },
  ]);
  for (const ok of [
    "arn:aws-us-gov:sns:us-gov-west-1:123456789012:t",
    "arn:aws-cn:sns:cn-north-1:123456789012:t",
    "arn:aws:sns:eu-west-1:123456789012:t.fifo",
  ]) {
    assert.equal(
      codeOf(() => notifications(`[{ sns: '${ok}' }]`)),
      "ok",
      ok,
    );
  }
  const refused = [
    "[{ sns: 'arn:aws:sqs:eu-west-1:123456789012:queue' }]",
    "[{ sns: 'arn:aws:sns:eu-west-1:12345:t' }]",
    "[{ sns: 'arn:aws:sns:eu-west-1:123456789012:*' }]",
    "[{ sns: 'arn:aws:sns:eu-west-1:123456789012:t', secret: s }]",
    "[{ sns: 'arn:aws:sns:eu-west-1:123456789012:t', on: [] }]",
    "[{ sns: 'arn:aws:sns:eu-west-1:123456789012:t', endpoint: 'not a url' }]",
  ];
  for (const bad of refused)
    assert.equal(
      codeOf(() => notifications(bad)),
      "INVALID_CONFIG",
      bad,
    );
  assert.equal(topicRegion("arn:aws-us-gov:sns:us-gov-west-1:123456789012:t"), "us-gov-west-1");
});

const job = (over: Partial<Job>): Job => ({
  id: "0b6a3c1e-5a0f-4d84-9d43-6d2f0e3f2a11",
  status: "failed",
  request: { source: "docker.io/library/nginx:1.27", destinations: ["ghcr.example.com/mirror/nginx"], trigger: "api" } as Job["request"],
  createdAt: "2026-01-01T00:00:00Z",
  updatedAt: "2026-01-01T00:00:01Z",
  done: [],
  failed: [],
  ...over,
});

it("Publish: the notification's JSON, a Subject, status and code attributes; FIFO topics get a group and a deduplication id", () => {
  const target = { sns: "arn:aws:sns:eu-west-1:123456789012:ferry", on: ["failed" as const] };
  const failed = job({ error: { code: "NOT_FOUND", side: "source", message: "manifest unknown", retryable: false } as Job["error"] });
  const input = snsPublishInput(target, failed, notificationOf(failed, target));
  assert.deepEqual(JSON.parse(input.Message), notificationOf(failed, target));
  assert.equal(input.TopicArn, target.sns);
  assert.equal(input.Subject, `ferry: job ${failed.id} failed [NOT_FOUND]: docker.io/library/nginx:1.27`);
  assert.deepEqual(input.MessageAttributes, { status: { DataType: "String", StringValue: "failed" }, code: { DataType: "String", StringValue: "NOT_FOUND" } });
  assert.equal(input.MessageGroupId, undefined);

  const ok = job({ status: "succeeded", request: { ...failed.request, source: `registry.example.com/${"a/".repeat(60)}app:v1`, rule: "mirror" } });
  const fifo = { ...target, sns: `${target.sns}.fifo` };
  const out = snsPublishInput(fifo, ok, notificationOf(ok, fifo));
  assert.deepEqual(out.MessageAttributes, { status: { DataType: "String", StringValue: "succeeded" }, rule: { DataType: "String", StringValue: "mirror" } });
  assert.ok(out.Subject.length <= 100 && /^[\x20-\x7e]+$/.test(out.Subject), out.Subject);
  assert.deepEqual([out.MessageGroupId, out.MessageDeduplicationId], [ok.id, `${ok.id}.succeeded`]);
  const arrow = snsPublishInput(target, job({ request: { ...failed.request, source: "ünïcode/x:1" } }), {});
  assert.match(arrow.Subject, /^[\x20-\x7e]+$/, "SNS takes ASCII subjects only");
});
