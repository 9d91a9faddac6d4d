/**
 * An independent AWS Signature Version 4 verifier, written from the published algorithm with
 * node:crypto only (no AWS code), for stand-ins of AWS endpoints in tests: canonical request →
 * string to sign → derived signing key → HMAC, compared in constant time.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

export interface SignedRequest {
  method: string;
  /** The request target as received: path and query, still percent-encoded. */
  target: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface Expected {
  accessKeyId: string;
  secretAccessKey: string;
  /** When set, the request must carry and sign x-amz-security-token with this value. */
  sessionToken?: string;
  region: string;
  service: string;
  /** The verifier's clock (default: now); a signature more than 15 minutes off is refused. */
  now?: Date;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

const sha256hex = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data, "utf8").digest();

/** RFC 3986 percent-encoding: unreserved characters stay, everything else is %XX (upper case). */
const uriEncode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Non-S3 services: each path segment as received is URI-encoded once more. */
function canonicalUri(path: string): string {
  return path === "" ? "/" : path.split("/").map(uriEncode).join("/");
}

function canonicalQuery(query: string): string {
  if (!query) return "";
  const pairs = query.split("&").map((p) => {
    const i = p.indexOf("=");
    const [k, v] = i < 0 ? [p, ""] : [p.slice(0, i), p.slice(i + 1)];
    const dec = (x: string) => decodeURIComponent(x.replace(/\+/g, " "));
    return [uriEncode(dec(k)), uriEncode(dec(v))] as const;
  });
  pairs.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join("&");
}

const headerValue = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name];
  return v === undefined ? undefined : Array.isArray(v) ? v.join(",") : String(v);
};

/** Checks a request's SigV4 Authorization header against the expected credentials and scope. */
export function verifySigV4(req: SignedRequest, want: Expected): Verdict {
  const auth = headerValue(req.headers, "authorization") ?? "";
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
    auth,
  );
  if (!m) return { ok: false, reason: "no SigV4 Authorization header" };
  const [, keyId, date, region, service, signedList, signature] = m as unknown as string[];
  if (keyId !== want.accessKeyId) return { ok: false, reason: "unknown access key" };
  if (region !== want.region || service !== want.service) return { ok: false, reason: `scope ${region}/${service}` };
  const amzDate = headerValue(req.headers, "x-amz-date") ?? "";
  const t = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!t || amzDate.slice(0, 8) !== date) return { ok: false, reason: "x-amz-date missing or not the scope's date" };
  const when = Date.UTC(Number(t[1]), Number(t[2]) - 1, Number(t[3]), Number(t[4]), Number(t[5]), Number(t[6]));
  if (Math.abs(when - (want.now ?? new Date()).getTime()) > 15 * 60_000) return { ok: false, reason: "signature expired" };
  const signed = String(signedList).split(";");
  if (signed.join(";") !== [...signed].sort().join(";")) return { ok: false, reason: "signed headers not sorted" };
  for (const h of ["host", "x-amz-date", ...(want.sessionToken ? ["x-amz-security-token"] : [])]) {
    if (!signed.includes(h)) return { ok: false, reason: `${h} not signed` };
  }
  if (want.sessionToken && headerValue(req.headers, "x-amz-security-token") !== want.sessionToken) return { ok: false, reason: "wrong session token" };
  const payloadHash = sha256hex(req.body);
  const claimed = headerValue(req.headers, "x-amz-content-sha256");
  if (claimed !== undefined && claimed !== payloadHash) return { ok: false, reason: "x-amz-content-sha256 is not the body's" };
  const q = req.target.indexOf("?");
  const canonicalRequest = [
    req.method,
    canonicalUri(q < 0 ? req.target : req.target.slice(0, q)),
    canonicalQuery(q < 0 ? "" : req.target.slice(q + 1)),
    ...signed.map((h) => `${h}:${(headerValue(req.headers, h) ?? "").trim().replace(/\s+/g, " ")}`),
    "",
    signed.join(";"),
    payloadHash,
  ].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256hex(canonicalRequest)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${want.secretAccessKey}`, String(date)), String(region)), String(service)), "aws4_request");
  const expected = hmac(key, stringToSign);
  const given = Buffer.from(String(signature), "hex");
  return given.length === expected.length && timingSafeEqual(given, expected) ? { ok: true } : { ok: false, reason: "signature does not match" };
}
