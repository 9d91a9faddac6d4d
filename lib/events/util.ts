/** Helpers shared by the webhook providers: JSON, HMAC, times, digests and references. */
import { createHmac } from "node:crypto";
import { isDigest } from "../oci/digest.ts";
import { safeEqual } from "./compare.ts";
import { BadPayloadError, type WebhookRequest } from "./types.ts";

/** Parses the body as a JSON object, or throws BadPayloadError. */
export function jsonBody(req: WebhookRequest): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(req.body.toString("utf8"));
  } catch {
    throw new BadPayloadError("body is not JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new BadPayloadError("body is not a JSON object");
  return v as Record<string, unknown>;
}

export const obj = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
export const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);

/** Requires a string field, naming it in the error. */
export function need(v: unknown, what: string): string {
  const s = str(v);
  if (!s) throw new BadPayloadError(`${what} is missing`);
  return s;
}

/** hex(HMAC(secret, body)) compared in constant time with `given` (optionally after a prefix). */
export function hmacMatches(alg: "sha1" | "sha256" | "sha512", secret: string, body: Buffer, given: string | undefined, prefix = ""): boolean {
  if (!given) return false;
  const want = prefix + createHmac(alg, secret).update(body).digest("hex");
  return safeEqual(given.trim().toLowerCase(), want);
}

/** `Authorization` equal to the secret, bare or as a Bearer token. */
export function staticAuthMatches(req: WebhookRequest, secret: string | undefined, header = "authorization"): boolean {
  if (!secret) return false;
  const got = req.headers[header] ?? "";
  return safeEqual(got, secret) || safeEqual(got, `Bearer ${secret}`);
}

/** The `?token=` query parameter equal to the secret (senders that cannot sign). */
export function queryTokenMatches(req: WebhookRequest, secret: string | undefined): boolean {
  return !!secret && safeEqual(req.query.token ?? "", secret);
}

/** A time from unix seconds, RFC 3339, or Nexus's `+0000` offsets; receipt time otherwise. */
export function eventTime(v: unknown): string {
  let ms = Number.NaN;
  if (typeof v === "number" && v > 0) ms = v * 1000;
  else if (typeof v === "string") ms = Date.parse(v.replace(/([+-]\d{2})(\d{2})$/, "$1:$2"));
  // Outside JavaScript's date range (±8.64e15 ms) toISOString throws: use the receipt time.
  const d = new Date(ms);
  return Number.isFinite(d.getTime()) ? d.toISOString() : new Date().toISOString();
}

const SHA256 = /^sha256:[a-f0-9]{64}$/;

/** A digest if `v` is one (sha256 normalised from bare hex when `bareHex`). */
export function digestOf(v: unknown, bareHex = false): string | undefined {
  const s = str(v)?.toLowerCase();
  if (!s) return undefined;
  if (bareHex && /^[a-f0-9]{64}$/.test(s)) return `sha256:${s}`;
  return SHA256.test(s) || isDigest(s) ? s : undefined;
}

/** Splits a tag that may really be a digest (Harbor, Gitea) into tag or digest. */
export function tagOrDigest(v: unknown): { tag?: string; digest?: string } {
  const s = str(v);
  if (!s) return {};
  const d = digestOf(s);
  return d ? { digest: d } : { tag: s };
}

/** Host of a URL or of a `host/path` string, lower-cased, port kept. */
export function hostOf(v: unknown): string | undefined {
  const s = str(v);
  if (!s) return undefined;
  try {
    return new URL(s.includes("://") ? s : `https://${s}`).host.toLowerCase() || undefined;
  } catch {
    return undefined;
  }
}
