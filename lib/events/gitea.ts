/**
 * Gitea and Forgejo `package` events. Signed with `X-Gitea-Signature` / `X-Forgejo-Signature`
 * (hex HMAC-SHA256, no prefix) or `X-Hub-Signature-256` (`sha256=` prefix). `version` is the tag,
 * or `sha256:…` for a push by digest (dropped: the tagged push carries the tag).
 */
import { BadPayloadError, type WebhookProvider } from "./types.ts";
import { eventTime, hmacMatches, hostOf, jsonBody, need, obj, tagOrDigest } from "./util.ts";

export const gitea: WebhookProvider = {
  name: "gitea",
  verify(req, secret) {
    if (!secret) return false;
    const h = req.headers;
    const plain = h["x-gitea-signature"] ?? h["x-forgejo-signature"];
    if (plain) return hmacMatches("sha256", secret, req.body, plain);
    return hmacMatches("sha256", secret, req.body, h["x-hub-signature-256"], "sha256=");
  },
  parse(req) {
    const event = req.headers["x-gitea-event"] ?? req.headers["x-forgejo-event"];
    if (event !== "package") return [];
    const b = jsonBody(req);
    if (b.action !== "created") return [];
    const p = obj(b.package);
    if (!p) throw new BadPayloadError("package is missing");
    if (p.type !== "container") return [];
    const { tag } = tagOrDigest(p.version);
    if (!tag) return [];
    const owner = need(obj(p.owner)?.login, "package.owner.login");
    const registry = hostOf(p.html_url);
    return [
      {
        ...(registry ? { registry } : {}),
        repository: `${owner}/${need(p.name, "package.name")}`.toLowerCase(),
        tag,
        eventTime: eventTime(p.created_at),
        deliveryId: req.headers["x-gitea-delivery"] ?? req.headers["x-forgejo-delivery"] ?? `${owner}/${String(p.name)}:${tag}:${String(p.created_at)}`,
      },
    ];
  },
};
