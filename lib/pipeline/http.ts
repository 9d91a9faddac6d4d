/**
 * The pipeline's HTTP surface, independent of API Gateway: `POST /replications`,
 * `GET /replications/{id}`, `GET /replications?limit=N`, `POST /replications/{id}/redrive`,
 * `POST /replications/{id}/fail`, `POST /webhooks/{provider}/{id}`, and the status page's routes
 * (`/`, `/login`, `/logout`, `/ui/…`, `/dead-letters`: lib/ui/routes.ts).
 * functions/api.ts and the local HTTP front both call `handleHttp`.
 */
import { z } from "zod";
import { formatIssues, secretFrom } from "../config.ts";
import { ReferrersSettingSchema } from "../rules/rule-settings.ts";
import { FerryError } from "../errors.ts";
import { replicationAllowed } from "../rules/allow.ts";
import { authenticate, csrfOk } from "../ui/session.ts";
import { handlePage } from "../ui/routes.ts";
import type { PipelineDeps } from "./deps.ts";
import { deliveryJobId, submitReplication, validateRequest } from "./ingress.ts";
import { jobView, operatorAction } from "./operator.ts";
import type { ReplicationRequest } from "../queue/messages.ts";
import type { HttpRequest, HttpResponse } from "./http-types.ts";
import { handleWebhook } from "./webhook-ingress.ts";

export type { HttpRequest, HttpResponse } from "./http-types.ts";
export { jobView } from "./operator.ts";

const ReplicationBody = z
  .object({
    source: z.string().min(1),
    destinations: z.array(z.string().min(1)).min(1).max(20),
    platforms: z.array(z.string()).optional(),
    merge: z.boolean().optional(),
    /** "index": a single-platform image becomes a one-entry index. */
    normalize: z.literal("index").optional(),
    /** Referrers copied with the image: "all" (default), "none", or {artifactTypes: [...]}. */
    referrers: ReferrersSettingSchema.optional(),
    /** Same key, same job: a repeated request (a backfill run) is not queued twice. */
    dedupKey: z.string().min(1).max(500).optional(),
    /** The rule a backfill request comes from. */
    rule: z.string().optional(),
  })
  .strict();

const json = (status: number, body: unknown): HttpResponse => ({ status, body });

/** Routes one request. Never throws for bad input: 4xx with the reason. */
export async function handleHttp(deps: PipelineDeps, req: HttpRequest): Promise<HttpResponse> {
  const parts = req.path.split("/").filter(Boolean);
  if (req.method === "GET" && req.path === "/healthz") return json(200, { ok: true });
  if (parts[0] === "webhooks" && parts.length === 3) {
    if (req.method !== "POST") return json(405, { error: "use POST" });
    return handleWebhook(deps, parts[1] as string, parts[2] as string, req);
  }
  if (parts[0] === "replications") {
    const denied = checkApiToken(deps, req);
    if (denied) return denied;
    if (parts.length === 1 && req.method === "POST") return createReplication(deps, req);
    if (parts.length === 1 && req.method === "GET") {
      const limit = req.query.limit === undefined ? 20 : Number(req.query.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) return json(400, { error: "limit must be an integer from 1 to 100", field: "limit" });
      return json(200, { jobs: (await deps.store.listJobs(limit)).map(jobView) });
    }
    if (parts.length === 2 && req.method === "GET") {
      const job = await deps.store.getJob(parts[1] as string, { withTasks: true });
      return job ? json(200, jobView(job)) : json(404, { error: `no replication ${parts[1]}` });
    }
    if (parts.length === 3 && req.method === "POST" && (parts[2] === "redrive" || parts[2] === "fail")) {
      return operatorAction(deps, parts[1] as string, parts[2], req);
    }
    return json(405, { error: `${req.method} not allowed here` });
  }
  const page = await handlePage(deps, req);
  if (page) return page;
  return json(404, { error: `no route for ${req.method} ${req.path}` });
}

/** The bearer token, or the status page's login cookie (then a POST needs the CSRF header or its own Origin). */
function checkApiToken(deps: PipelineDeps, req: HttpRequest): HttpResponse | undefined {
  const token = secretFrom(deps.config.api.token, deps.config.api.tokenEnv);
  if (!token) return undefined; // on AWS the gateway authorises (IAM)
  const authn = authenticate(token, req, Date.now());
  if (!authn) return json(401, { error: "missing or wrong bearer token", code: "AUTH" });
  return csrfOk(req, authn) ? undefined : json(403, { error: "a POST with the login cookie needs X-Ferry-CSRF: 1 or this origin", code: "CSRF" });
}

async function createReplication(deps: PipelineDeps, req: HttpRequest): Promise<HttpResponse> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(req.body.toString("utf8"));
  } catch {
    return json(400, { error: "body is not valid JSON" });
  }
  const r = ReplicationBody.safeParse(parsed);
  if (!r.success) {
    const first = r.error.issues[0];
    return json(400, { error: formatIssues(r.error.issues), field: first?.path.join(".") || undefined });
  }
  try {
    const { dedupKey, rule, ...fields } = r.data;
    const request: ReplicationRequest = { ...fields, ...(rule ? { rule } : {}), trigger: rule ? "backfill" : "api", eventTime: new Date().toISOString() };
    validateRequest(request);
    const verdict = replicationAllowed(deps.config, request);
    if (!verdict.allowed) return json(403, { error: verdict.reason, code: "FORBIDDEN" });
    const { id, created } = await submitReplication(deps, request, dedupKey ? deliveryJobId("api", dedupKey) : undefined);
    return json(202, { id, status: "queued", statusUrl: `/replications/${id}`, created });
  } catch (e) {
    if (e instanceof FerryError && (e.code === "INVALID_REFERENCE" || e.code === "USAGE")) {
      return json(400, { error: e.message, code: e.code, ...(e.field ? { field: e.field } : {}) });
    }
    throw e;
  }
}
