/**
 * Notifications of a job's end: when a job becomes failed (or, if asked, succeeded), a JSON POST
 * to each configured URL with the job, its source, destinations, digest, error code and status
 * URL, a Slack-compatible `text`, and an HMAC-SHA256 signature of the body; retried, never fatal.
 * The same body may go to an SNS topic (notify-sns.ts).
 * Attached to the store, so every path that ends a job (merge, a last delivery, the gate, the
 * reconciler, an operator) reports it.
 */
import { createHmac } from "node:crypto";
import { request } from "undici";
import type { FerryConfig } from "../config.ts";
import { secretFrom } from "../config.ts";
import type { Job, JobPatch, JobStatus, JobStore } from "../state/store.ts";
import type { Log } from "./deps.ts";
import { snsPublisher, snsPublishInput } from "./notify-sns.ts";

type Target = FerryConfig["notifications"][number];
type UrlTarget = Extract<Target, { url: string }>;

const ATTEMPTS = 3;

/** The notification's body for `job` (its status already final). */
export function notificationOf(job: Job, target: Target): Record<string, unknown> {
  const status = job.status;
  const digest = job.result?.digest ?? job.plan?.root.digest;
  const error = job.error ? { code: job.error.code, ...(job.error.side ? { side: job.error.side } : {}), message: job.error.message } : undefined;
  const statusUrl = `${target.statusBase ?? ""}/replications/${job.id}`;
  const what = `${job.request.source} → ${job.request.destinations.join(", ")}`;
  const text =
    status === "failed"
      ? `:x: ferry job ${job.id} failed [${error?.code ?? "?"}${error?.side ? ` ${error.side}` : ""}]: ${what} — ${error?.message ?? ""} (${statusUrl})`
      : `:white_check_mark: ferry job ${job.id} succeeded: ${what}${digest ? ` @ ${digest}` : ""} (${statusUrl})`;
  return {
    event: `job.${status}`,
    job: job.id,
    status,
    source: job.request.source,
    destinations: job.request.destinations,
    ...(digest ? { digest } : {}),
    ...(error ? { error } : {}),
    ...(job.request.rule ? { rule: job.request.rule } : {}),
    statusUrl,
    text,
  };
}

/** POSTs `body` to the target, signed; retried with a short back-off; resolves to whether it was taken (2xx). */
export async function deliver(target: UrlTarget, body: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const bytes = Buffer.from(JSON.stringify(body));
  const secret = secretFrom(target.secret, target.secretEnv, env);
  const headers: Record<string, string> = { "content-type": "application/json", "user-agent": "ferry" };
  if (secret) headers["x-ferry-signature"] = `sha256=${createHmac("sha256", secret).update(bytes).digest("hex")}`;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    try {
      const res = await request(target.url, { method: "POST", headers, body: bytes, headersTimeout: 5000, bodyTimeout: 5000 });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) return true;
      if (res.statusCode < 500 && res.statusCode !== 429) return false;
    } catch {
      // a refused or reset connection: try again
    }
    if (attempt < ATTEMPTS) await new Promise((r) => setTimeout(r, 250 * 4 ** (attempt - 1)));
  }
  return false;
}

/**
 * `store`, reporting each job that a write moves to an end the config asks about. Only an applied
 * write reports (a duplicate delivery's refused write does not), once per end.
 */
export function notifyingStore(store: JobStore, config: FerryConfig, log: Log, env: NodeJS.ProcessEnv = process.env): JobStore {
  const targets = config.notifications;
  if (targets.length === 0) return store;
  const updateJob = store.updateJob.bind(store);
  const publish = snsPublisher((t, e) => log.warn("SNS notification not published", { topic: t.sns, error: (e as Error).name, reason: (e as Error).message }));
  const report = async (t: Target, job: Job): Promise<void> => {
    const body = notificationOf(job, t);
    if ("sns" in t) await publish(t, snsPublishInput(t, job, body));
    else if (!(await deliver(t, body, env))) log.warn("notification not delivered", { jobId: job.id, url: t.url });
  };
  return Object.assign(Object.create(store) as JobStore, {
    async updateJob(id: string, patch: JobPatch, from?: readonly JobStatus[]): Promise<boolean> {
      const applied = await updateJob(id, patch, from);
      const ended = patch.status === "failed" || patch.status === "succeeded" ? patch.status : undefined;
      const wanted = ended ? targets.filter((t) => t.on.includes(ended)) : [];
      if (applied && wanted.length > 0) {
        const job = await store.getJob(id);
        if (job && job.status === ended) {
          await Promise.all(wanted.map((t) => report(t, job)));
        }
      }
      return applied;
    },
  });
}
