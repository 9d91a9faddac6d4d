/**
 * Azure Container Registry native webhooks: one object `{id, timestamp, action, target, request}`
 * per delivery, authenticated by a configured custom header (Authorization). `ping` is ignored.
 */
import { BadPayloadError, type WebhookProvider } from "./types.ts";
import { digestOf, eventTime, hostOf, jsonBody, need, obj, staticAuthMatches, str } from "./util.ts";

export const acr: WebhookProvider = {
  name: "acr",
  verify: (req, secret) => staticAuthMatches(req, secret),
  parse(req) {
    const b = jsonBody(req);
    if (b.action !== "push") return []; // ping, delete, quarantine, chart events
    const t = obj(b.target);
    if (!t) throw new BadPayloadError("target is missing");
    const tag = str(t.tag);
    if (!tag) return [];
    const digest = digestOf(t.digest);
    const mediaType = str(t.mediaType);
    const registry = hostOf(obj(b.request)?.host);
    return [
      {
        ...(registry ? { registry } : {}),
        repository: need(t.repository, "target.repository"),
        tag,
        ...(digest ? { digest } : {}),
        ...(mediaType ? { mediaType } : {}),
        eventTime: eventTime(b.timestamp),
        deliveryId: need(b.id, "id"),
      },
    ];
  },
};
