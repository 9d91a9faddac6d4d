/** The queue port on SQS (or a stand-in speaking its protocol: fauxqs locally). */
import { ChangeMessageVisibilityCommand, GetQueueAttributesCommand, SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { FerryError } from "../errors.ts";
import type { AnyMessage, QueueName, QueuePort } from "./messages.ts";

export class SqsQueues implements QueuePort {
  constructor(
    private readonly client: SQSClient,
    private readonly urls: Record<QueueName, string>,
  ) {}

  async send(queue: QueueName, messages: AnyMessage[], opts: { delaySeconds?: number } = {}): Promise<void> {
    const delay = opts.delaySeconds === undefined ? undefined : Math.max(0, Math.min(900, Math.round(opts.delaySeconds)));
    // SendMessageBatch takes at most 10 entries.
    for (let i = 0; i < messages.length; i += 10) {
      const batch = messages.slice(i, i + 10);
      const out = await this.client.send(
        new SendMessageBatchCommand({
          QueueUrl: this.urls[queue],
          Entries: batch.map((m, j) => ({ Id: String(j), MessageBody: JSON.stringify(m), ...(delay ? { DelaySeconds: delay } : {}) })),
        }),
      );
      if (out.Failed && out.Failed.length > 0) {
        const f = out.Failed[0];
        throw new FerryError("NETWORK", `SQS refused ${out.Failed.length} of ${batch.length} messages to ${queue}: ${f?.Code} ${f?.Message ?? ""}`, {
          retryable: !f?.SenderFault,
        });
      }
    }
  }

  async retryLater(queue: QueueName, receiptHandle: string, delaySeconds: number): Promise<void> {
    const seconds = Math.max(0, Math.min(43_200, Math.round(delaySeconds)));
    await this.client.send(new ChangeMessageVisibilityCommand({ QueueUrl: this.urls[queue], ReceiptHandle: receiptHandle, VisibilityTimeout: seconds }));
  }

  async backlog(queue: QueueName): Promise<number> {
    const out = await this.client.send(
      new GetQueueAttributesCommand({ QueueUrl: this.urls[queue], AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }),
    );
    const a = out.Attributes ?? {};
    return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0);
  }
}
