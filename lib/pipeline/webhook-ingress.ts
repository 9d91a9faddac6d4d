/**
 * Webhook ingress: a sender's delivery (verified, parsed by its provider) or an ECR push event from
 * EventBridge becomes jobs by the rules — and a push of a cosign or referrers fallback tag becomes
 * a referrer event. A configured registry is the source; a payload's host is never trusted.
 */
import { readFileSync } from "node:fs";
import type { WebhookConfig } from "../config.ts";
import { secretFrom } from "../config.ts";
import { FerryError } from "../errors.ts";
import { PROVIDERS } from "../events/index.ts";
import { BadPayloadError, type ImageEvent, type TagDeleteEvent, type VerifyOptions } from "../events/types.ts";
import { parseRepository } from "../oci/reference.ts";
import { parseCosignTag, parseFallbackTag } from "../oci/referrers.ts";
import type { ReferrerEvent, ReplicationRequest } from "../queue/messages.ts";
import { matchRules } from "../rules/match.ts";
import { tagAllowed } from "../rules/tags.ts";
import type { PipelineDeps } from "./deps.ts";
import { deleteRequestsFor } from "./deletes-ingress.ts";
import type { HttpRequest, HttpResponse } from "./http-types.ts";
import { deliveryJobId, submitReplication, validateRequest } from "./ingress.ts";

/**
 * A webhook's secret: inline, from the environment, or by ARN — read on the first delivery and
 * kept, so only the function that verifies webhooks ever reads webhook secrets (`{"secret": …}` or the string).
 */
async function webhookSecret(deps: PipelineDeps, hook: WebhookConfig): Promise<string | undefined> {
  if (hook.secretArn && !hook.secret && deps.secretValue) {
    const raw = await deps.secretValue(hook.secretArn);
    hook.secret = raw.trim().startsWith("{") ? ((JSON.parse(raw) as { secret?: string }).secret ?? raw) : raw;
  }
  return secretFrom(hook.secret, hook.secretEnv, deps.env);
}

/** Webhook bodies above this are refused with 413 before parsing. */
export const MAX_BODY_BYTES = 1024 * 1024;

const json = (status: number, body: unknown): HttpResponse => ({ status, body });

export async function handleWebhook(deps: PipelineDeps, providerName: string, id: string, req: HttpRequest): Promise<HttpResponse> {
  const provider = PROVIDERS[providerName];
  const hook = deps.config.webhooks.find((w) => w.provider === providerName && w.id === id);
  if (!provider || !hook) return json(404, { error: `no webhook ${providerName}/${id}` });
  if (req.body.byteLength > MAX_BODY_BYTES) return json(413, { error: `body over ${MAX_BODY_BYTES} bytes` });
  const request = { headers: req.headers, query: req.query, body: req.body };
  if (!provider.verify(request, await webhookSecret(deps, hook), verifyOptions(hook))) return json(401, { error: "verification failed" });
  let events: ReturnType<typeof provider.parse>;
  let deletes: TagDeleteEvent[];
  try {
    events = provider.parse(request);
    deletes = provider.parseDeletes?.(request) ?? [];
  } catch (e) {
    if (e instanceof BadPayloadError) return json(400, { error: e.message });
    throw e;
  }
  return acceptEvents(deps, events, { providerName, id, ...(hook.registry ? { registry: hook.registry } : {}) }, deletes);
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
async function acceptEvents(
  deps: PipelineDeps,
  events: ImageEvent[],
  o: { providerName: string; id: string; registry?: string },
  deletes: TagDeleteEvent[] = [],
): Promise<HttpResponse> {
  if (events.length === 0 && deletes.length === 0) return json(200, { accepted: 0, ignored: "no tagged manifest push in this delivery" });
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
  // Tag deletions: delete jobs for the rules that propagate them (none unless a rule opts in).
  for (const ev of deletes) {
    const registry = o.registry ?? ev.registry;
    const made = registry ? deleteRequestsFor(deps.config.rules, { ...ev, registry }) : [];
    if (made.length === 0) unmatched++;
    for (const m of made) planned.push({ request: m.request, jobId: deliveryJobId(providerName, id, "delete", ev.deliveryId, m.rule) });
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
