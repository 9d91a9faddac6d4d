/**
 * The status page's routes, served by the same handler as /replications (`ferry serve` and the
 * API function on AWS): `GET /` (the page, or the login form), `GET /ui/app.css|app.js`,
 * `POST /login`, `POST /logout`, and the JSON under `/ui/` and `/dead-letters` (jobs-api.ts).
 *
 * Auth: the API token (`api.token`/`api.tokenEnv`, as /replications; on AWS the secret named by
 * `api.statusPage.tokenSecretArn`) is typed into the login form once and becomes a signed cookie
 * (session.ts). With no token at all (a local `ferry serve` without one) the page is open, as the
 * API is.
 *
 * Live updates are polled (the script asks every 2 s): server-sent events would not stream here,
 * since both the local front and API Gateway → Lambda buffer a whole response before sending it.
 */
import { secretFrom } from "../config.ts";
import type { PipelineDeps } from "../pipeline/deps.ts";
import type { HttpRequest, HttpResponse } from "../pipeline/http-types.ts";
import { APP_CSS } from "./assets/app-css.ts";
import { APP_JS } from "./assets/app-js.ts";
import { loginHtml, statusHtml } from "./assets/html.ts";
import { handlePageApi } from "./jobs-api.ts";
import { authenticate, csrfOk, sameOrigin, sessionCookie, signSession } from "./session.ts";
import { safeEqual } from "../events/compare.ts";

/** Sent with every page response: no inline script or style, nothing from elsewhere, no framing. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
  "cache-control": "no-store",
};

const ASSETS: Readonly<Record<string, { type: string; text: string }>> = {
  "/ui/app.css": { type: "text/css; charset=utf-8", text: APP_CSS },
  "/ui/app.js": { type: "text/javascript; charset=utf-8", text: APP_JS },
};

const PAGE_PATHS = new Set(["/", "/login", "/logout", "/dead-letters"]);

const withHeaders = (r: HttpResponse, extra: Record<string, string> = {}): HttpResponse => ({
  ...r,
  headers: { ...SECURITY_HEADERS, ...r.headers, ...extra },
});
const html = (status: number, text: string, extra: Record<string, string> = {}): HttpResponse =>
  withHeaders({ status, body: undefined, text, headers: { "content-type": "text/html; charset=utf-8" } }, extra);
const json = (status: number, body: unknown): HttpResponse => withHeaders({ status, body });
const seeOther = (extra: Record<string, string> = {}): HttpResponse =>
  withHeaders({ status: 303, body: undefined, text: "", headers: { location: "/" } }, extra);

// Safe to share: a secret's value, read once per process (as webhook secrets are).
const secretCache = new WeakMap<object, Promise<string>>();

/** The token the page's login takes, or undefined when the page is open (no token anywhere). */
export async function pageToken(deps: PipelineDeps): Promise<string | undefined> {
  const api = deps.config.api;
  const token = secretFrom(api.token, api.tokenEnv, deps.env ?? process.env);
  if (token || !api.statusPage) return token;
  const page = api.statusPage;
  const read = deps.secretValue;
  if (!read) return undefined;
  let value = secretCache.get(page);
  if (!value) {
    value = read(page.tokenSecretArn).then((raw) => (raw.trim().startsWith("{") ? ((JSON.parse(raw) as { token?: string }).token ?? raw) : raw).trim());
    value.catch(() => secretCache.delete(page));
    secretCache.set(page, value);
  }
  return value;
}

/** Answers a status page request; undefined when `req` is not for the page. */
export async function handlePage(deps: PipelineDeps, req: HttpRequest): Promise<HttpResponse | undefined> {
  const asset = ASSETS[req.path];
  if (asset) {
    if (req.method !== "GET" && req.method !== "HEAD") return json(405, { error: "use GET" });
    return withHeaders({ status: 200, body: undefined, text: asset.text, headers: { "content-type": asset.type, "cache-control": "no-cache" } });
  }
  if (!PAGE_PATHS.has(req.path) && !req.path.startsWith("/ui/")) return undefined;
  const token = await pageToken(deps);
  if (req.path === "/login") return login(req, token);
  if (req.path === "/logout") {
    if (req.method !== "POST") return json(405, { error: "use POST" });
    if (!csrfOk(req, "cookie")) return json(403, { error: "log out from the page itself", code: "CSRF" });
    return seeOther({ "set-cookie": sessionCookie("", req) });
  }
  const authn = token ? authenticate(token, req, Date.now()) : "open";
  if (req.path === "/") {
    if (req.method !== "GET" && req.method !== "HEAD") return json(405, { error: "use GET" });
    return authn ? html(200, statusHtml({ logout: authn === "cookie" })) : html(200, loginHtml());
  }
  if (!authn) return json(401, { error: "log in first (POST /login) or send the bearer token", code: "AUTH" });
  // Open (no token) still checks writes: any site could otherwise post to a local ferry serve.
  if (!csrfOk(req, authn === "open" ? "cookie" : authn))
    return json(403, { error: "a POST with the login cookie needs X-Ferry-CSRF: 1 or this origin", code: "CSRF" });
  const out = await handlePageApi(deps, req);
  return out ? withHeaders(out) : json(404, { error: `no route for ${req.method} ${req.path}` });
}

/** `POST /login` with the form field `token`: the cookie and back to the page, or the form again with 401. */
function login(req: HttpRequest, token: string | undefined): HttpResponse {
  if (req.method !== "POST") return req.method === "GET" ? seeOther() : json(405, { error: "use POST" });
  // A login from another site's form would log this browser in as the token's owner: refuse it.
  if (req.headers.origin && !sameOrigin(req)) return json(403, { error: "log in from the page itself", code: "CSRF" });
  if (!token) return seeOther();
  const given = new URLSearchParams(req.body.toString("utf8")).get("token") ?? "";
  if (!safeEqual(given, token)) return html(401, loginHtml("That token is not the API token."));
  return seeOther({ "set-cookie": sessionCookie(signSession(token, Date.now()), req) });
}
