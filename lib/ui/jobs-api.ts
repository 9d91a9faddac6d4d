/**
 * The JSON the status page reads and the actions it takes, under `/ui/`, and `/dead-letters`.
 * The same use-cases as /replications (lib/pipeline/operator.ts), on routes of their own because
 * on AWS /replications is IAM-authorised at the gateway, which a browser cannot sign for; these
 * take the page's login cookie instead (lib/ui/routes.ts).
 *
 *   GET  /ui/jobs?status=&source=&destination=&rule=&limit=   recent jobs, filtered
 *   GET  /ui/jobs/{id}                                        one job with its tasks and the actions that apply
 *   POST /ui/jobs/{id}/redrive | fail | retry                 the operator's actions
 *   GET  /dead-letters                                        each DLQ's depth and messages (peeked)
 */
import { FerryError } from "../errors.ts";
import type { PipelineDeps } from "../pipeline/deps.ts";
import type { HttpRequest, HttpResponse } from "../pipeline/http-types.ts";
import { submitReplication } from "../pipeline/ingress.ts";
import { jobView, operatorAction } from "../pipeline/operator.ts";
import { redriveJobNow } from "../pipeline/recovery.ts";
import type { ReplicationRequest } from "../queue/messages.ts";
import { replicationAllowed } from "../rules/allow.ts";
import { FINAL_STATUSES, type Job, type JobStatus } from "../state/store.ts";

const json = (status: number, body: unknown): HttpResponse => ({ status, body });

/** Jobs looked at for a filtered list: the newest this many (the store lists by recency only). */
const SCAN = 100;

export interface JobFilter {
  status?: string;
  source?: string;
  destination?: string;
  rule?: string;
}

/** True when `job` passes every filter given: status exactly, the others as case-insensitive substrings. */
export function jobMatches(job: Job, f: JobFilter): boolean {
  const has = (value: string | undefined, part: string | undefined) => !part || (value ?? "").toLowerCase().includes(part.toLowerCase());
  return (
    (!f.status || job.status === f.status) &&
    has(job.request.source, f.source) &&
    (!f.destination || job.request.destinations.some((d) => has(d, f.destination))) &&
    has(job.request.rule, f.rule)
  );
}

/**
 * What the page may offer for a job: re-drive and fail while it is not final (a stuck job), retry
 * once it failed: `reopen` when the error is retryable (the same job goes on, as a redrive), else
 * `resubmit` (the same request again, as a new job).
 */
export function actionsFor(job: Job): { redrive: boolean; fail: boolean; retry?: "reopen" | "resubmit" } {
  const final = FINAL_STATUSES.includes(job.status);
  const retryable = job.status === "failed" && job.error?.retryable === true;
  return {
    redrive: !final,
    fail: !final,
    ...(job.status === "failed" ? { retry: retryable ? ("reopen" as const) : ("resubmit" as const) } : {}),
  };
}

/** Routes one page API request (already authenticated); undefined when the path is not one of these. */
export async function handlePageApi(deps: PipelineDeps, req: HttpRequest): Promise<HttpResponse | undefined> {
  const parts = req.path.split("/").filter(Boolean);
  if (req.path === "/dead-letters") {
    if (req.method !== "GET") return json(405, { error: "use GET" });
    return json(
      200,
      deps.deadLetters ? { queues: await deps.deadLetters.peek() } : { queues: [], unavailable: "this runtime does not know its dead-letter queues" },
    );
  }
  if (parts[0] !== "ui" || parts[1] !== "jobs") return undefined;
  if (parts.length === 2 && req.method === "GET") return listJobs(deps, req.query);
  const id = parts[2] as string;
  if (parts.length === 3 && req.method === "GET") {
    const job = await deps.store.getJob(id, { withTasks: true });
    return job ? json(200, { ...jobView(job), actions: actionsFor(job) }) : json(404, { error: `no replication ${id}`, code: "NOT_FOUND" });
  }
  if (parts.length === 4 && req.method === "POST") {
    if (parts[3] === "redrive" || parts[3] === "fail") return operatorAction(deps, id, parts[3], req);
    if (parts[3] === "retry") return retry(deps, id);
  }
  return json(405, { error: `${req.method} not allowed here` });
}

async function listJobs(deps: PipelineDeps, q: Record<string, string>): Promise<HttpResponse> {
  const limit = q.limit === undefined || q.limit === "" ? 50 : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > SCAN) return json(400, { error: `limit must be an integer from 1 to ${SCAN}`, field: "limit" });
  const statuses: readonly string[] = ["queued", "planning", "copying", "merging", "succeeded", "failed", "skipped"] satisfies JobStatus[];
  if (q.status && !statuses.includes(q.status)) return json(400, { error: `status must be one of ${statuses.join(", ")}`, field: "status" });
  const filter: JobFilter = { ...(q.status ? { status: q.status } : {}), source: q.source, destination: q.destination, rule: q.rule };
  const jobs = (await deps.store.listJobs(SCAN)).filter((j) => jobMatches(j, filter)).slice(0, limit);
  return json(200, { jobs: jobs.map(jobView), scanned: SCAN });
}

/** A failed job again: re-opened when its error is retryable, else the same request as a new job. */
async function retry(deps: PipelineDeps, id: string): Promise<HttpResponse> {
  const job = await deps.store.getJob(id);
  if (!job) return json(404, { error: `no replication ${id}`, code: "NOT_FOUND" });
  const mode = actionsFor(job).retry;
  if (!mode) return json(409, { error: `replication ${id} is ${job.status}: only a failed job is retried`, code: "CONFLICT" });
  if (mode === "reopen") {
    try {
      return json(202, { mode, id, job: jobView(await redriveJobNow(deps, id)) });
    } catch (e) {
      if (e instanceof FerryError && e.code === "CONFLICT") return json(409, { error: e.message, code: e.code });
      throw e;
    }
  }
  const { deliveryId: _d, eventTime: _t, ...rest } = job.request;
  const request: ReplicationRequest = { ...rest, trigger: "api", eventTime: new Date().toISOString() };
  const verdict = replicationAllowed(deps.config, request);
  if (!verdict.allowed) return json(403, { error: verdict.reason, code: "FORBIDDEN" });
  const out = await submitReplication(deps, request);
  return json(202, { mode, id: out.id, retryOf: id });
}
