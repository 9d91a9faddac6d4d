/**
 * The pipeline's HTTP surface, independent of API Gateway: `POST /replications`,
 * `GET /replications/{id}`, `GET /replications?limit=N`, `POST /replications/{id}/redrive`,
 * `POST /replications/{id}/fail`, `POST /webhooks/{provider}/{id}`.
 * functions/api.ts and the local HTTP front both call `handleHttp`.
 */
import { z } from "zod";
import { formatIssues, ReferrersSettingSchema, secretFrom } from "../config.ts";
import { FerryError } from "../errors.ts";
import { PROVIDERS } from "../events/index.ts";
import { BadPayloadError } from "../events/types.ts";
import { safeEqual } from "../events/compare.ts";
import { replicationAllowed } from "../rules/allow.ts";
import { matchRules } from "../rules/match.ts";
import { tagAllowed } from "../rules/tags.ts";
import type { Job } from "../state/store.ts";
import type { WebhookConfig } from "../config.ts";
import type { ImageEvent, VerifyOptions } from "../events/types.ts";
import { parseRepository } from "../oci/reference.ts";
import { parseCosignTag, parseFallbackTag } from "../oci/referrers.ts";
import { readFileSync } from "node:fs";
import type { PipelineDeps } from "./deps.ts";
import { deliveryJobId, submitReplication, validateRequest } from "./ingress.ts";
import { failJobNow, redriveJobNow } from "./recovery.ts";
import type { ReferrerEvent, ReplicationRequest } from "../queue/messages.ts";

export interface HttpRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Lowercase names. */
  headers: Record<string, string>;
  body: Buffer;
}

export interface HttpResponse {
  status: number;
  body: unknown;
}

/** Webhook bodies above this are refused with 413 before parsing. */
export const MAX_BODY_BYTES = 1024 * 1024;

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
  return json(404, { error: `no route for ${req.method} ${req.path}` });
}

function checkApiToken(deps: PipelineDeps, req: HttpRequest): HttpResponse | undefined {
  const token = secretFrom(deps.config.api.token, deps.config.api.tokenEnv);
  if (!token) return undefined; // on AWS the gateway authorises (IAM)
  const got = req.headers.authorization ?? "";
  return safeEqual(got, `Bearer ${token}`) ? undefined : json(401, { error: "missing or wrong bearer token" });
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

/** `redrive` re-sends a stuck job's work (or re-opens a retryable failure); `fail` ends it with CANCELLED. */
async function operatorAction(deps: PipelineDeps, id: string, action: "redrive" | "fail", req: HttpRequest): Promise<HttpResponse> {
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
    ...(job.request.platforms ? { platforms: job.request.platforms } : {}),
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    ...(job.taskCount !== undefined ? { progress: { total: job.taskCount, done: job.done.length, failed: job.failed.length } } : {}),
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

async function handleWebhook(deps: PipelineDeps, providerName: string, id: string, req: HttpRequest): Promise<HttpResponse> {
  const provider = PROVIDERS[providerName];
  const hook = deps.config.webhooks.find((w) => w.provider === providerName && w.id === id);
  if (!provider || !hook) return json(404, { error: `no webhook ${providerName}/${id}` });
  if (req.body.byteLength > MAX_BODY_BYTES) return json(413, { error: `body over ${MAX_BODY_BYTES} bytes` });
  const request = { headers: req.headers, query: req.query, body: req.body };
  if (!provider.verify(request, secretFrom(hook.secret, hook.secretEnv), verifyOptions(hook))) return json(401, { error: "verification failed" });
  let events: ReturnType<typeof provider.parse>;
  try {
    events = provider.parse(request);
  } catch (e) {
    if (e instanceof BadPayloadError) return json(400, { error: e.message });
    throw e;
  }
  return acceptEvents(deps, events, { providerName, id, ...(hook.registry ? { registry: hook.registry } : {}) });
}

/**
 * An ECR push event delivered by EventBridge straight to the webhook function: IAM authenticated
 * the caller (the rule's invoke permission), so no secret; the registry comes from the event's
 * account and region. Then the same rule matching as any webhook.
 */
export async function acceptEcrEvent(deps: PipelineDeps, event: unknown): Promise<HttpResponse> {
  let events: ReturnType<(typeof PROVIDERS)["ecr"]["parse"]>;
  try {
    events = (PROVIDERS.ecr as NonNullable<(typeof PROVIDERS)["ecr"]>).parse({ headers: {}, query: {}, body: Buffer.from(JSON.stringify(event)) });
  } catch (e) {
    if (e instanceof BadPayloadError) return json(400, { error: e.message });
    throw e;
  }
  return acceptEvents(deps, events, { providerName: "ecr", id: "eventbridge" });
}

/** Turns a delivery's events into jobs (and referrer events) by the rules; `registry`, when configured, is the source registry. */
async function acceptEvents(deps: PipelineDeps, events: ImageEvent[], o: { providerName: string; id: string; registry?: string }): Promise<HttpResponse> {
  if (events.length === 0) return json(200, { accepted: 0, ignored: "no tagged manifest push in this delivery" });
  const { providerName, id } = o;
  // Build and validate every request first: a malformed event (a tag that is not a tag, a bad
  // repository name) makes the whole delivery a 400, and nothing is enqueued.
  const planned: Array<{ request: ReplicationRequest; jobId: string }> = [];
  const referrerEvents: ReferrerEvent[] = [];
  let unmatched = 0;
  for (const [i, ev] of events.entries()) {
    // A configured registry is the source: the payload's host is never trusted for where to pull.
    const registry = o.registry ?? ev.registry;
    if (!registry) {
      unmatched++;
      continue;
    }
    // A cosign or referrers fallback tag: what refers to an image moved, not an image to mirror.
    const late = ev.tag ? referrerEventOf(deps, registry, { ...ev, tag: ev.tag }) : undefined;
    if (late !== undefined) {
      if (late) referrerEvents.push(late);
      else unmatched++;
      continue;
    }
    const matches = matchRules(deps.config.rules, { registry, repository: ev.repository, ...(ev.tag ? { tag: ev.tag } : {}) }).filter(
      (m) => !ev.tag || tagAllowed(m.rule, ev.tag),
    );
    if (matches.length === 0) unmatched++;
    for (const m of matches) {
      const request: ReplicationRequest = {
        source: `${registry}/${ev.repository}${ev.tag ? `:${ev.tag}` : ""}${ev.digest ? `@${ev.digest}` : ""}`,
        destinations: m.destinations,
        ...(m.rule.platforms ? { platforms: m.rule.platforms } : {}),
        ...(m.rule.merge ? { merge: true } : {}),
        ...(m.rule.normalize ? { normalize: m.rule.normalize } : {}),
        ...(m.rule.referrers ? { referrers: m.rule.referrers } : {}),
        trigger: "webhook",
        eventTime: ev.eventTime,
        deliveryId: ev.deliveryId,
        rule: m.rule.name,
      };
      try {
        validateRequest(request);
      } catch (e) {
        const field = e instanceof FerryError && e.field ? `events[${i}].${e.field}` : `events[${i}]`;
        return json(400, { error: `event ${i}: ${(e as Error).message}`, field });
      }
      planned.push({ request, jobId: deliveryJobId(providerName, id, ev.deliveryId, m.rule.name) });
    }
  }
  const jobs: string[] = [];
  for (const p of planned) jobs.push((await submitReplication(deps, p.request, p.jobId)).id);
  if (referrerEvents.length) await deps.queues.send("plan", referrerEvents);
  if (jobs.length === 0 && referrerEvents.length === 0) return json(202, { accepted: 0, ignored: "no matching rule" });
  return json(202, {
    accepted: jobs.length + referrerEvents.length,
    jobs,
    ...(referrerEvents.length ? { referrers: referrerEvents.length } : {}),
    ...(unmatched ? { unmatched } : {}),
  });
}

/**
 * The referrer event a push of a cosign tag (`sha256-<hex>.sig`) or a referrers fallback tag
 * (`sha256-<hex>`) makes, for the first rule mirroring the repository; null when no rule (or a
 * rule with `referrers: none`) takes it; undefined for any other tag.
 */
function referrerEventOf(deps: PipelineDeps, registry: string, ev: ImageEvent & { tag: string }): ReferrerEvent | null | undefined {
  const subject = parseCosignTag(ev.tag)?.subject ?? parseFallbackTag(ev.tag);
  if (!subject) return undefined;
  const rule = matchRules(deps.config.rules, { registry, repository: ev.repository }).find((m) => m.rule.referrers !== "none")?.rule;
  if (!rule) return null;
  return {
    v: 1,
    kind: "referrers",
    source: parseRepository(`${registry}/${ev.repository}`),
    subject,
    tag: ev.tag,
    eventTime: ev.eventTime,
    deliveryId: ev.deliveryId,
    rule: rule.name,
    ...(rule.referrers ? { referrers: rule.referrers } : {}),
  };
}

const jwksCache = new Map<string, VerifyOptions["jwks"]>();

/** OIDC settings of a sender (gar); the JWKS file is read once. */
function verifyOptions(hook: WebhookConfig): VerifyOptions {
  let jwks = hook.jwks as VerifyOptions["jwks"];
  if (!jwks && hook.jwksFile) {
    jwks = jwksCache.get(hook.jwksFile);
    if (!jwks) {
      jwks = JSON.parse(readFileSync(hook.jwksFile, "utf8")) as VerifyOptions["jwks"];
      jwksCache.set(hook.jwksFile, jwks);
    }
  }
  return {
    ...(hook.audience ? { audience: hook.audience } : {}),
    ...(hook.serviceAccount ? { serviceAccount: hook.serviceAccount } : {}),
    ...(jwks ? { jwks } : {}),
  };
}
