/**
 * The dead-letter queues as the status page shows them: each queue's depth and up to ten of its
 * messages, read with `VisibilityTimeout: 0` so they stay where they are (visible at once to the
 * next reader, a redrive included). A DLQ has no redrive policy of its own, so a peek's receive
 * never moves a message anywhere. Nothing here deletes.
 */
import { GetQueueAttributesCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";

/** One message waiting in a dead-letter queue. */
export interface DeadLetter {
  id: string;
  /** Epoch ms the message was first sent. */
  sentAt?: number;
  /** Deliveries so far (SQS's approximate count; a peek adds one). */
  receiveCount?: number;
  /** The pipeline message's kind and job, when its body parses. */
  kind?: string;
  jobId?: string;
  /** The body, cut to {@link MAX_BODY} characters. */
  body: string;
}

export interface DeadLetterQueueView {
  queue: string;
  /** Messages in the queue (visible and in flight, approximate). */
  depth: number;
  messages: DeadLetter[];
}

/** Each dead-letter queue's depth and a sample of its messages, left in the queue. */
export interface DeadLetterReader {
  peek(): Promise<DeadLetterQueueView[]>;
}

const MAX_BODY = 4096;

/** A reader over SQS (or fauxqs) for the given DLQ URLs by pipeline queue name. */
export function sqsDeadLetters(sqs: SQSClient, urls: Readonly<Record<string, string>>): DeadLetterReader {
  return {
    peek: () => Promise.all(Object.entries(urls).map(([queue, url]) => peekQueue(sqs, queue, url))),
  };
}

async function peekQueue(sqs: SQSClient, queue: string, url: string): Promise<DeadLetterQueueView> {
  const attrs = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }),
  );
  const a = attrs.Attributes ?? {};
  const depth = Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0);
  if (depth === 0) return { queue, depth, messages: [] };
  const out = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: url,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
      VisibilityTimeout: 0,
      MessageSystemAttributeNames: ["SentTimestamp", "ApproximateReceiveCount"],
    }),
  );
  return { queue, depth, messages: (out.Messages ?? []).map((m) => deadLetterOf(m.MessageId ?? "", m.Body ?? "", m.Attributes ?? {})) };
}

/** The view of one message: its kind and job id when the body is a pipeline message. */
export function deadLetterOf(id: string, body: string, attrs: Readonly<Record<string, string | undefined>>): DeadLetter {
  let kind: string | undefined;
  let jobId: string | undefined;
  try {
    const v = JSON.parse(body) as { kind?: unknown; jobId?: unknown };
    if (typeof v.kind === "string") kind = v.kind;
    if (typeof v.jobId === "string") jobId = v.jobId;
  } catch {
    // a poison message: shown as it is
  }
  const sentAt = Number(attrs.SentTimestamp);
  const receiveCount = Number(attrs.ApproximateReceiveCount);
  return {
    id,
    ...(Number.isFinite(sentAt) && sentAt > 0 ? { sentAt } : {}),
    ...(Number.isFinite(receiveCount) && receiveCount > 0 ? { receiveCount } : {}),
    ...(kind ? { kind } : {}),
    ...(jobId ? { jobId } : {}),
    body: body.length > MAX_BODY ? `${body.slice(0, MAX_BODY)}…` : body,
  };
}
