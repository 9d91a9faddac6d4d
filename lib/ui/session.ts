/**
 * The status page's login: a cookie `ferry_session=<expiry>.<mac>`, where mac is HMAC-SHA256
 * keyed by the API token over the expiry (epoch seconds). Nothing is stored server-side; changing
 * the token logs everybody out. The same check accepts `Authorization: Bearer <token>`.
 *
 * CSRF: a browser sends the cookie with any request to this origin, a forged form POST included
 * (SameSite=Strict already stops cross-site ones in current browsers; this is the second fence).
 * So a state-changing request authenticated by the cookie must also carry `X-Ferry-CSRF: 1`
 * (a custom header, which a cross-origin page cannot set without a CORS preflight ferry never
 * grants) or an `Origin` whose host is the request's own `Host`.
 */
import { createHmac } from "node:crypto";
import { safeEqual } from "../events/compare.ts";
import type { HttpRequest } from "../pipeline/http-types.ts";

export const SESSION_COOKIE = "ferry_session";
/** How long a login lasts. */
export const SESSION_SECONDS = 12 * 3600;
/** The header the page's script sends with every POST. */
export const CSRF_HEADER = "x-ferry-csrf";

const mac = (token: string, expiry: number) => createHmac("sha256", token).update(`ferry-session:${expiry}`).digest("base64url");

/** The cookie value for a login at `now` (epoch ms). */
export function signSession(token: string, now: number, seconds = SESSION_SECONDS): string {
  const expiry = Math.floor(now / 1000) + seconds;
  return `${expiry}.${mac(token, expiry)}`;
}

/** True when `value` was signed with `token` and has not expired at `now` (epoch ms). */
export function verifySession(token: string, value: string, now: number): boolean {
  const m = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(value);
  if (!m) return false;
  const expiry = Number(m[1]);
  if (expiry * 1000 <= now) return false;
  return safeEqual(m[2] as string, mac(token, expiry));
}

/** The request's cookies by name (the first of each name). */
export function cookiesOf(req: HttpRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i < 0) continue;
    const name = part.slice(0, i).trim();
    if (name && !(name in out)) out[name] = part.slice(i + 1).trim();
  }
  return out;
}

/** True when the request came over https (API Gateway and proxies say so in X-Forwarded-Proto). */
export function overHttps(req: HttpRequest): boolean {
  return (req.headers["x-forwarded-proto"] ?? "").split(",")[0]?.trim() === "https";
}

/** The Set-Cookie value for a login (or, with `value` empty, a logout). */
export function sessionCookie(value: string, req: HttpRequest, seconds = SESSION_SECONDS): string {
  const maxAge = value ? seconds : 0;
  return `${SESSION_COOKIE}=${value}; Max-Age=${maxAge}; Path=/; HttpOnly; SameSite=Strict${overHttps(req) ? "; Secure" : ""}`;
}

/** How a request proved who it is: a bearer token, the session cookie, or not at all. */
export type Authn = "bearer" | "cookie" | undefined;

/** Which credential of the request `token` accepts. */
export function authenticate(token: string, req: HttpRequest, now: number): Authn {
  if (safeEqual(req.headers.authorization ?? "", `Bearer ${token}`)) return "bearer";
  const cookie = cookiesOf(req)[SESSION_COOKIE];
  return cookie && verifySession(token, cookie, now) ? "cookie" : undefined;
}

/**
 * The CSRF rule: reads are free; a write authenticated by the cookie needs `X-Ferry-CSRF: 1` or
 * an `Origin` naming this very host. A bearer token is never sent by a browser on its own.
 */
export function csrfOk(req: HttpRequest, authn: Authn): boolean {
  if (req.method === "GET" || req.method === "HEAD" || authn !== "cookie") return true;
  if (req.headers[CSRF_HEADER] === "1") return true;
  return sameOrigin(req);
}

/** True when the request's `Origin` names the host it was sent to. */
export function sameOrigin(req: HttpRequest): boolean {
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (!origin || !host || origin === "null") return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}
