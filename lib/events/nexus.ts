/**
 * Sonatype Nexus 3 repository webhooks (`X-Nexus-Webhook-Id: rm:repository:component`), signed
 * with `X-Nexus-Webhook-Signature: hex(HMAC-SHA1(secret, raw body))`. No digest and no host:
 * the webhook's configured `registry` names the Docker connector.
 */
import { BadPayloadError, type WebhookProvider } from "./types.ts";
import { eventTime, hmacMatches, jsonBody, need, obj, tagOrDigest } from "./util.ts";

export const nexus: WebhookProvider = {
  name: "nexus",
  verify: (req, secret) => !!secret && hmacMatches("sha1", secret, req.body, req.headers["x-nexus-webhook-signature"]),
  parse(req) {
    const b = jsonBody(req);
    if (req.headers["x-nexus-webhook-id"] && req.headers["x-nexus-webhook-id"] !== "rm:repository:component") return [];
    if (b.action !== "CREATED" && b.action !== "UPDATED") return [];
    const c = obj(b.component);
    if (!c) throw new BadPayloadError("component is missing");
    if (c.format !== "docker") return [];
    const { tag, digest } = tagOrDigest(c.version);
    if (!tag) return [];
    return [
      {
        repository: need(c.name, "component.name"),
        tag,
        ...(digest ? { digest } : {}),
        eventTime: eventTime(b.timestamp),
        deliveryId: req.headers["x-nexus-webhook-delivery"] ?? `${String(c.name)}:${tag}:${String(b.timestamp)}`,
      },
    ];
  },
};
