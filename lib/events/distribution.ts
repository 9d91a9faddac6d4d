/**
 * CNCF distribution `notifications`: each POST carries `{"events": [...]}`
 * (Content-Type application/vnd.docker.distribution.events.v1+json). Authenticated by a header
 * the registry is configured to send: `Authorization: Bearer <secret>` or `<secret>`.
 * Only manifest pushes with a tag count; blob pushes and tagless child manifests are dropped.
 * v2.x sends `…events.v1+json`, v3 `…events.v2+json`: the same envelope. The registry is the host
 * of `target.url` (the registry's own address), else `request.host` (what the client used).
 *
 * Deletions: `DELETE /v2/<name>/manifests/<digest>` sends one `delete` event with `target.digest`
 * and then one per tag that pointed at it with `target.tag` (2.8; a v3 tag delete sends the
 * latter alone). Delete events carry no media type and no URL; only those naming a tag count.
 */
import { isManifestType } from "../oci/media-types.ts";
import { hostOf } from "./util.ts";
import { BadPayloadError, type ImageEvent, type TagDeleteEvent, type WebhookProvider, type WebhookRequest } from "./types.ts";
import { safeEqual } from "./compare.ts";

interface DistributionEvent {
  id?: unknown;
  timestamp?: unknown;
  action?: unknown;
  target?: { mediaType?: unknown; digest?: unknown; repository?: unknown; tag?: unknown; url?: unknown };
  request?: { host?: unknown };
}

/** The envelope's events, each checked to be an object. */
function eventsOf(req: WebhookRequest): DistributionEvent[] {
  let body: { events?: unknown };
  try {
    body = JSON.parse(req.body.toString("utf8")) as { events?: unknown };
  } catch {
    throw new BadPayloadError("body is not JSON");
  }
  if (typeof body !== "object" || body === null || !Array.isArray(body.events)) throw new BadPayloadError("want an object with an events array");
  return body.events.map((raw: unknown, i) => {
    if (typeof raw !== "object" || raw === null) throw new BadPayloadError(`events[${i}] is not an object`);
    return raw as DistributionEvent;
  });
}

const timeOf = (e: DistributionEvent): string =>
  typeof e.timestamp === "string" && !Number.isNaN(Date.parse(e.timestamp)) ? e.timestamp : new Date().toISOString();

export const distribution: WebhookProvider = {
  name: "distribution",
  verify(req: WebhookRequest, secret: string | undefined): boolean {
    if (!secret) return false;
    const got = req.headers.authorization ?? "";
    return safeEqual(got, `Bearer ${secret}`) || safeEqual(got, secret);
  },
  parse(req: WebhookRequest): ImageEvent[] {
    const out: ImageEvent[] = [];
    eventsOf(req).forEach((e, i) => {
      if (e.action !== "push") return;
      const t = e.target;
      if (typeof t?.repository !== "string" || typeof t.mediaType !== "string") throw new BadPayloadError(`events[${i}].target needs repository and mediaType`);
      if (!isManifestType(t.mediaType)) return; // a blob upload
      if (typeof t.tag !== "string" || t.tag === "") return; // a child pushed by digest: the index push carries the tag
      const registry = hostOf(t.url) ?? hostOf(e.request?.host);
      out.push({
        ...(registry ? { registry } : {}),
        repository: t.repository,
        tag: t.tag,
        ...(typeof t.digest === "string" ? { digest: t.digest } : {}),
        mediaType: t.mediaType,
        eventTime: timeOf(e),
        deliveryId: typeof e.id === "string" ? e.id : `${t.repository}:${t.tag}@${String(t.digest)}`,
      });
    });
    return out;
  },
  parseDeletes(req: WebhookRequest): TagDeleteEvent[] {
    const out: TagDeleteEvent[] = [];
    eventsOf(req).forEach((e, i) => {
      if (e.action !== "delete") return;
      const t = e.target;
      if (typeof t?.repository !== "string") throw new BadPayloadError(`events[${i}].target needs repository`);
      if (typeof t.tag !== "string" || t.tag === "") return; // the digest's own event: its tags come as events of their own
      const registry = hostOf(t.url) ?? hostOf(e.request?.host);
      out.push({
        ...(registry ? { registry } : {}),
        repository: t.repository,
        tag: t.tag,
        eventTime: timeOf(e),
        deliveryId: typeof e.id === "string" ? e.id : `delete:${t.repository}:${t.tag}@${timeOf(e)}`,
      });
    });
    return out;
  },
};
