/**
 * Google Artifact Registry / GCR through a Pub/Sub push subscription: `{message: {data (base64 of
 * {action, digest?, tag?} full references), messageId, publishTime}, subscription}`. Authenticated
 * by Pub/Sub's OIDC token: RS256 signature against the configured JWKS, issuer Google, the
 * configured audience and service account, `email_verified`, not expired.
 */
import { splitReferenceLoose } from "../oci/reference.ts";
import { createPublicKey, createVerify, type JsonWebKey } from "node:crypto";
import { BadPayloadError, type VerifyOptions, type WebhookProvider, type WebhookRequest } from "./types.ts";
import { eventTime, jsonBody, need, obj, str } from "./util.ts";

const ISSUERS = new Set(["accounts.google.com", "https://accounts.google.com"]);

/** Verifies a Google-signed OIDC JWT against the options. */
export function verifyOidc(token: string, opts: VerifyOptions): boolean {
  const parts = token.split(".");
  if (parts.length !== 3 || !opts.jwks || !opts.audience || !opts.serviceAccount) return false;
  const [h, p, s] = parts as [string, string, string];
  let header: { alg?: string; kid?: string };
  let claims: { iss?: string; aud?: string | string[]; email?: string; email_verified?: boolean | string; exp?: number; nbf?: number };
  try {
    header = JSON.parse(Buffer.from(h, "base64url").toString("utf8"));
    claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
  } catch {
    return false;
  }
  if (header.alg !== "RS256") return false;
  const jwk = opts.jwks.keys.find((k) => k.kid === header.kid) ?? (opts.jwks.keys.length === 1 ? opts.jwks.keys[0] : undefined);
  if (!jwk) return false;
  let ok = false;
  try {
    const key = createPublicKey({ key: jwk as JsonWebKey, format: "jwk" });
    ok = createVerify("RSA-SHA256").update(`${h}.${p}`).verify(key, Buffer.from(s, "base64url"));
  } catch {
    return false;
  }
  const now = (opts.now?.() ?? Date.now()) / 1000;
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  return (
    ok &&
    ISSUERS.has(claims.iss ?? "") &&
    aud.includes(opts.audience) &&
    claims.email === opts.serviceAccount &&
    (claims.email_verified === true || claims.email_verified === "true") &&
    typeof claims.exp === "number" &&
    claims.exp > now &&
    (claims.nbf === undefined || claims.nbf <= now + 60)
  );
}

export const gar: WebhookProvider = {
  name: "gar",
  verify(req: WebhookRequest, _secret, opts: VerifyOptions = {}) {
    const auth = req.headers.authorization ?? "";
    return auth.startsWith("Bearer ") && verifyOidc(auth.slice(7), opts);
  },
  parse(req) {
    const b = jsonBody(req);
    const m = obj(b.message);
    if (!m) throw new BadPayloadError("message is missing");
    let data: Record<string, unknown> | undefined;
    try {
      data = obj(JSON.parse(Buffer.from(need(m.data, "message.data"), "base64").toString("utf8")));
    } catch (e) {
      if (e instanceof BadPayloadError) throw e;
      throw new BadPayloadError("message.data is not base64 JSON");
    }
    if (!data) throw new BadPayloadError("message.data is not an object");
    if (data.action !== "INSERT") return [];
    const tagRef = str(data.tag) ? splitReferenceLoose(String(data.tag)) : undefined;
    if (!tagRef?.tag) return []; // digest-only inserts: children, or untagged
    const digestRef = str(data.digest) ? splitReferenceLoose(String(data.digest)) : undefined;
    return [
      {
        registry: tagRef.registry,
        repository: tagRef.repository,
        tag: tagRef.tag,
        ...(digestRef?.digest ? { digest: digestRef.digest } : {}),
        eventTime: eventTime(m.publishTime ?? m.publish_time),
        deliveryId: need(m.messageId ?? m.message_id, "message.messageId"),
      },
    ];
  },
};
