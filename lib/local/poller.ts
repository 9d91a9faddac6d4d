/**
 * An SQS poller that behaves like Lambda's event source mapping: long-polls a queue, invokes the
 * handler with a batch, deletes the records that succeeded, and leaves the failed ones
 * (`batchItemFailures`, or all when the handler throws or times out) to come back after the
 * visibility timeout; the queue's redrive policy moves them to the DLQ after maxReceiveCount.
 * Unlike Lambda (whose visibility timeout must be ≥ 6 × the function's), a batch that runs long
 * keeps its messages invisible until it ends, so a slow copy is never delivered twice at once.
 */
import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { FerryError } from "../errors.ts";
import { type LocalSqsEvent, type LocalSqsRecord, localContext, type SqsHandler } from "./lambda.ts";

export interface PollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  name: string;
  handler: SqsHandler;
  /** Records per invocation (Lambda: BatchSize). */
  batchSize: number;
  /** Invocations at once (Lambda: MaximumConcurrency). */
  concurrency: number;
  /** Seconds a received batch stays invisible. */
  visibilityTimeout: number;
  /** Lambda timeout for an invocation. */
  functionTimeoutMs: number;
  onError?: (e: unknown) => void;
}

export class SqsPoller {
  private running = false;
  private readonly loops: Promise<void>[] = [];
  private readonly abort = new AbortController();

  constructor(private readonly o: PollerOptions) {}

  start(): void {
    this.running = true;
    for (let i = 0; i < this.o.concurrency; i++) this.loops.push(this.loop());
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await Promise.allSettled(this.loops);
  }

  private async loop(): Promise<void> {
    while (this.running) {
      let messages: Message[] = [];
      try {
        const out = await this.o.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.o.queueUrl,
            MaxNumberOfMessages: this.o.batchSize,
            WaitTimeSeconds: 1,
            VisibilityTimeout: this.o.visibilityTimeout,
            MessageSystemAttributeNames: ["All"],
            MessageAttributeNames: ["All"],
          }),
          { abortSignal: this.abort.signal },
        );
        messages = out.Messages ?? [];
      } catch (e) {
        if (!this.running) return;
        this.o.onError?.(e);
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (messages.length === 0) continue;
      await this.invoke(messages);
    }
  }

  private async invoke(messages: Message[]): Promise<void> {
    const event: LocalSqsEvent = { Records: messages.map((m) => toRecord(m, this.o.queueUrl)) };
    let failed: Set<string>;
    const keepInvisible = setInterval(
      () => {
        const entries = messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: this.o.visibilityTimeout }));
        this.o.sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: this.o.queueUrl, Entries: entries })).catch((e: unknown) => this.o.onError?.(e));
      },
      Math.max(500, (this.o.visibilityTimeout * 1000) / 2),
    );
    try {
      const timeout = new Promise<never>((_, reject) => {
        const t = setTimeout(() => reject(new FerryError("DEADLINE", `${this.o.name}: invocation timed out`, { retryable: true })), this.o.functionTimeoutMs);
        t.unref();
      });
      const res = await Promise.race([this.o.handler(event, localContext(`ferry-${this.o.name}`, this.o.functionTimeoutMs)), timeout]);
      failed = new Set((res?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (e) {
      this.o.onError?.(e);
      failed = new Set(messages.map((m) => m.MessageId ?? ""));
    } finally {
      clearInterval(keepInvisible);
    }
    const done = messages.filter((m) => !failed.has(m.MessageId ?? ""));
    if (done.length === 0) return;
    try {
      await this.o.sqs.send(
        new DeleteMessageBatchCommand({ QueueUrl: this.o.queueUrl, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }),
      );
    } catch (e) {
      this.o.onError?.(e); // they come back after the visibility timeout: handlers are idempotent
    }
  }
}

function toRecord(m: Message, queueUrl: string): LocalSqsRecord {
  const a = m.Attributes ?? {};
  return {
    messageId: m.MessageId ?? "",
    receiptHandle: m.ReceiptHandle ?? "",
    body: m.Body ?? "",
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? "1",
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? "local",
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: m.MD5OfBody ?? "",
    eventSource: "aws:sqs",
    eventSourceARN: `arn:aws:sqs:local:000000000000:${queueUrl.split("/").at(-1)}`,
    awsRegion: "local",
  };
}
