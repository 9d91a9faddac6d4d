/**
 * The operator's actions on a job over HTTP (`redrive`, `fail`) and the job as the API shows it:
 * shared by the /replications routes (lib/pipeline/http.ts) and the status page (lib/ui/routes.ts).
 */
import { z } from "zod";
import { formatIssues } from "../config.ts";
import { FerryError } from "../errors.ts";
import type { Job } from "../state/store.ts";
import type { PipelineDeps } from "./deps.ts";
import type { HttpRequest, HttpResponse } from "./http-types.ts";
import { failJobNow, redriveJobNow } from "./recovery.ts";

const json = (status: number, body: unknown): HttpResponse => ({ status, body });

/** `redrive` re-sends a stuck job's work (or re-opens a retryable failure); `fail` ends it with CANCELLED. */
export async function operatorAction(deps: PipelineDeps, id: string, action: "redrive" | "fail", req: HttpRequest): Promise<HttpResponse> {
  let reason = "failed by an operator";
  if (action === "fail" && req.body.byteLength > 0) {
    const r = z
      .object({ reason: z.string().min(1).max(1000) })
      .strict()
      .safeParse(safeJson(req.body));
    if (!r.success) return json(400, { error: formatIssues(r.error.issues), field: r.error.issues[0]?.path.join(".") || undefined });
    reason = r.data.reason;
  }
  try {
    const job = action === "redrive" ? await redriveJobNow(deps, id) : await failJobNow(deps, id, reason);
    return json(action === "redrive" ? 202 : 200, jobView(job));
  } catch (e) {
    if (e instanceof FerryError && e.code === "NOT_FOUND") return json(404, { error: e.message, code: e.code });
    if (e instanceof FerryError && e.code === "CONFLICT") return json(409, { error: e.message, code: e.code });
    throw e;
  }
}

function safeJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
}

/** The job as the API shows it. */
export function jobView(job: Job) {
  return {
    id: job.id,
    status: job.status,
    source: job.request.source,
    destinations: job.request.destinations,
    trigger: job.request.trigger,
    // A delete job (a rule's deletes: propagate) says so, and when it may run.
    ...(job.request.action ? { action: job.request.action } : {}),
    ...(job.request.notBefore ? { notBefore: job.request.notBefore } : {}),
    ...(job.request.rule ? { rule: job.request.rule } : {}),
    ...(job.request.platforms ? { platforms: job.request.platforms } : {}),
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    ...(job.taskCount !== undefined
      ? { progress: { total: job.taskCount, done: job.done.length, failed: job.failed.filter((id) => !job.done.includes(id)).length } }
      : {}),
    ...(job.tasks
      ? {
          tasks: job.tasks.map((t) => ({
            platform: t.platform,
            digest: t.digest,
            destination: t.destination,
            state: t.state,
            ...(t.error ? { error: t.error } : {}),
          })),
        }
      : {}),
    ...(job.result ? { result: job.result } : {}),
    ...(job.error ? { error: job.error } : {}),
    ...(job.redrives ? { redrives: job.redrives } : {}),
  };
}
