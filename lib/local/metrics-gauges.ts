/**
 * Figures `ferry serve` reads when `/metrics` is scraped, as CloudWatch reads them from SQS and the
 * reconciler on AWS: each queue's messages (visible, in flight, delayed; dead-letter queues
 * included) by GetQueueAttributes, and the age of the oldest job not yet final from the store's
 * index of jobs under way (a bounded read: the oldest few entries, then their records).
 */
import { GetQueueAttributesCommand, type QueueAttributeName, type SQSClient } from "@aws-sdk/client-sqs";
import { Counter, Gauge, type Registry } from "prom-client";
import { FINAL_STATUSES, type JobRecords } from "../state/store.ts";
import type { Backends } from "./backends.ts";

export interface GaugeSources {
  sqs: SQSClient;
  /** Queue URLs by the name the metrics carry (`plan`, `copy`, `merge`, `plan-dlq`, …). */
  queues: Record<string, string>;
  store: Pick<JobRecords, "listActive" | "getJob">;
  now?: () => number;
}

/**
 * Entries of the index read per scrape: a job that just ended may linger in an eventually
 * consistent index, so a few are checked against their records before one is taken as the oldest.
 */
const OLDEST_CANDIDATES = 8;

const STATES: Record<string, QueueAttributeName> = {
  visible: "ApproximateNumberOfMessages",
  in_flight: "ApproximateNumberOfMessagesNotVisible",
  delayed: "ApproximateNumberOfMessagesDelayed",
};

/** The queues `ferry serve` runs on, by metric name: each pipeline queue and its dead-letter queue (`plan-dlq`) where known. */
export function metricQueues(b: Pick<Backends, "queues" | "deadLetterQueues">): Record<string, string> {
  const out: Record<string, string> = { ...b.queues };
  for (const [name, url] of Object.entries(b.deadLetterQueues)) if (url) out[`${name}-dlq`] = url;
  return out;
}

/** Seconds since the oldest job not yet final was created; 0 when every job is final. */
export async function oldestActiveAgeSeconds(store: GaugeSources["store"], now: () => number): Promise<number> {
  for (const entry of await store.listActive({ limit: OLDEST_CANDIDATES })) {
    const job = await store.getJob(entry.id);
    if (job && !FINAL_STATUSES.includes(job.status)) return Math.max(0, (now() - Date.parse(job.createdAt)) / 1000);
  }
  return 0;
}

export function registerScrapeGauges(r: Registry, src: GaugeSources): void {
  const now = src.now ?? Date.now;
  const errors = new Counter({
    name: "ferry_scrape_errors_total",
    help: "Scrape-time reads that failed, by source (sqs, store)",
    labelNames: ["source"],
    registers: [r],
  });
  new Gauge({
    name: "ferry_queue_messages",
    help: "Messages in each queue (dead-letter queues included), by state: visible, in_flight, delayed",
    labelNames: ["queue", "state"],
    registers: [r],
    async collect() {
      this.reset(); // a queue that cannot be read shows no figure rather than a stale one
      await Promise.all(
        Object.entries(src.queues).map(async ([queue, url]) => {
          try {
            const out = await src.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: Object.values(STATES) }));
            for (const [state, attr] of Object.entries(STATES)) this.set({ queue, state }, Number(out.Attributes?.[attr] ?? 0));
          } catch {
            errors.inc({ source: "sqs" });
          }
        }),
      );
    },
  });
  new Gauge({
    name: "ferry_oldest_active_job_age_seconds",
    help: "Age of the oldest job not yet final (0 when none)",
    registers: [r],
    async collect() {
      try {
        this.set(await oldestActiveAgeSeconds(src.store, now));
      } catch {
        this.reset();
        errors.inc({ source: "store" });
      }
    },
  });
}
