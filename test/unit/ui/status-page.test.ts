/**
 * The status page's login and CSRF rules, and its routes through the shared HTTP handler with an
 * in-memory store: the signed cookie (expiry, tampering, another token), which writes the CSRF
 * rule lets through, the login form's answers, the security headers, the page token from Secrets
 * Manager on AWS, the retry decision, the filters, and the colours' contrast.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../../../lib/config.ts";
import { type PipelineDeps, silentLog } from "../../../lib/pipeline/deps.ts";
import { handleHttp, type HttpRequest } from "../../../lib/pipeline/http.ts";
import { poolFromConfig } from "../../../lib/pipeline/registries.ts";
import type { AnyMessage, QueueName, QueuePort } from "../../../lib/queue/messages.ts";
import { MemoryJobStore } from "../../../lib/state/memory.ts";
import type { Job } from "../../../lib/state/store.ts";
import { APP_CSS, COLOUR_PAIRS } from "../../../lib/ui/assets/app-css.ts";
import { escapeHtml } from "../../../lib/ui/assets/html.ts";
import { deadLetterOf } from "../../../lib/ui/dead-letters.ts";
import { actionsFor, jobMatches } from "../../../lib/ui/jobs-api.ts";
import { authenticate, csrfOk, SESSION_COOKIE, signSession, verifySession } from "../../../lib/ui/session.ts";

const T0 = Date.UTC(2030, 0, 1);
const req = (over: Partial<HttpRequest> & { headers?: Record<string, string> }): HttpRequest => ({
  method: "GET",
  path: "/",
  query: {},
  body: Buffer.alloc(0),
  ...over,
  headers: { host: "127.0.0.1:8080", ...over.headers },
});

describe("the session cookie", () => {
  it("verifies until its expiry, and not after", () => {
    const v = signSession("tok", T0, 60);
    assert.equal(verifySession("tok", v, T0), true);
    assert.equal(verifySession("tok", v, T0 + 59_000), true);
    assert.equal(verifySession("tok", v, T0 + 60_000), false);
  });
  it("refuses a tampered expiry or mac, another token's cookie, and junk", () => {
    const v = signSession("tok", T0, 60);
    const [expiry, mac] = v.split(".") as [string, string];
    assert.equal(verifySession("tok", `${Number(expiry) + 3600}.${mac}`, T0), false, "a later expiry with the old mac");
    const flipped = mac.slice(0, -1) + (mac.endsWith("A") ? "B" : "A");
    assert.equal(verifySession("tok", `${expiry}.${flipped}`, T0), false, "one character of the mac changed");
    assert.equal(verifySession("other", v, T0), false, "signed with another token");
    for (const junk of ["", ".", `${expiry}.`, `abc.${mac}`, `${expiry}.${mac}.x`]) assert.equal(verifySession("tok", junk, T0), false, junk);
  });
  it("authenticates the bearer token or the cookie, nothing else", () => {
    const cookie = `${SESSION_COOKIE}=${signSession("tok", T0)}`;
    assert.equal(authenticate("tok", req({ headers: { authorization: "Bearer tok" } }), T0), "bearer");
    assert.equal(authenticate("tok", req({ headers: { cookie: `a=b; ${cookie}` } }), T0), "cookie");
    assert.equal(authenticate("tok", req({ headers: { authorization: "Bearer nope" } }), T0), undefined);
    assert.equal(authenticate("tok", req({ headers: { cookie: `${SESSION_COOKIE}=${signSession("x", T0)}` } }), T0), undefined);
  });
});

describe("the CSRF rule", () => {
  const cases: Array<[string, Partial<HttpRequest> & { headers?: Record<string, string> }, "bearer" | "cookie", boolean]> = [
    ["a GET with the cookie", { method: "GET" }, "cookie", true],
    ["a POST with the cookie and X-Ferry-CSRF: 1", { method: "POST", headers: { "x-ferry-csrf": "1" } }, "cookie", true],
    ["a POST with the cookie and this origin", { method: "POST", headers: { origin: "http://127.0.0.1:8080" } }, "cookie", true],
    ["a POST with the cookie and nothing else", { method: "POST" }, "cookie", false],
    ["a POST with the cookie from another origin", { method: "POST", headers: { origin: "http://evil.example" } }, "cookie", false],
    ["a POST with the cookie from another port", { method: "POST", headers: { origin: "http://127.0.0.1:9999" } }, "cookie", false],
    ["a POST with the cookie and Origin null", { method: "POST", headers: { origin: "null" } }, "cookie", false],
    ["a POST with the cookie and the header set to 0", { method: "POST", headers: { "x-ferry-csrf": "0" } }, "cookie", false],
    ["a POST with the bearer token", { method: "POST" }, "bearer", true],
  ];
  for (const [name, r, authn, ok] of cases) it(name, () => assert.equal(csrfOk(req(r), authn), ok));
});

class Queues implements QueuePort {
  readonly sent: AnyMessage[] = [];
  async send(_q: QueueName, m: AnyMessage[]) {
    this.sent.push(...m);
  }
  async backlog() {
    return 0;
  }
  async retryLater() {}
}

function depsFor(yaml: object, extra: Partial<PipelineDeps> = {}): PipelineDeps & { queues: Queues } {
  const config = parseConfig({ version: 1, ...yaml });
  return { config, store: new MemoryJobStore(), registries: poolFromConfig(config), log: silentLog, env: {}, ...extra, queues: new Queues() };
}

const form = (token: string) => Buffer.from(new URLSearchParams({ token }).toString());
const cookieOf = (setCookie: string | undefined) => (setCookie ?? "").split(";")[0] ?? "";

describe("the page's routes", () => {
  const allow = { allow: [{ source: "src.example.com/**", destinations: ["dst.example.com/**"] }] };

  it("with a token: the login form, a wrong token 401 without a cookie, the right one a cookie /replications accepts", async () => {
    const deps = depsFor({ api: { token: "s3cret", ...allow } });
    const page = await handleHttp(deps, req({ path: "/" }));
    assert.equal(page.status, 200);
    assert.match(page.text ?? "", /action="\/login"/);
    assert.doesNotMatch(page.text ?? "", /app\.js/, "no script before login");
    const wrong = await handleHttp(deps, req({ method: "POST", path: "/login", body: form("nope"), headers: { origin: "http://127.0.0.1:8080" } }));
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers?.["set-cookie"], undefined);
    assert.equal((await handleHttp(deps, req({ path: "/ui/jobs" }))).status, 401);
    const foreign = await handleHttp(deps, req({ method: "POST", path: "/login", body: form("s3cret"), headers: { origin: "http://evil.example" } }));
    assert.equal(foreign.status, 403, "a login posted from another site");
    const ok = await handleHttp(deps, req({ method: "POST", path: "/login", body: form("s3cret"), headers: { origin: "http://127.0.0.1:8080" } }));
    assert.equal(ok.status, 303);
    const set = ok.headers?.["set-cookie"] ?? "";
    for (const attr of ["HttpOnly", "SameSite=Strict", "Path=/"]) assert.ok(set.includes(attr), attr);
    assert.ok(!set.includes("Secure"), "not over http");
    const cookie = cookieOf(set);
    assert.equal((await handleHttp(deps, req({ path: "/replications", headers: { cookie } }))).status, 200);
    assert.match((await handleHttp(deps, req({ path: "/", headers: { cookie } }))).text ?? "", /src="\/ui\/app\.js"/);
    const body = Buffer.from(JSON.stringify({ source: "src.example.com/a:v1", destinations: ["dst.example.com/a"] }));
    const noCsrf = await handleHttp(deps, req({ method: "POST", path: "/replications", body, headers: { cookie } }));
    assert.deepEqual([noCsrf.status, (noCsrf.body as { code: string }).code], [403, "CSRF"]);
    assert.equal(deps.queues.sent.length, 0);
    const withCsrf = await handleHttp(deps, req({ method: "POST", path: "/replications", body, headers: { cookie, "x-ferry-csrf": "1" } }));
    assert.equal(withCsrf.status, 202);
    const https = await handleHttp(deps, req({ method: "POST", path: "/login", body: form("s3cret"), headers: { "x-forwarded-proto": "https" } }));
    assert.ok(https.headers?.["set-cookie"]?.includes("; Secure"), "Secure over https");
    const out = await handleHttp(deps, req({ method: "POST", path: "/logout", headers: { cookie, origin: "http://127.0.0.1:8080" } }));
    assert.match(out.headers?.["set-cookie"] ?? "", /Max-Age=0/);
  });

  it("sends the CSP and nosniff with the page, its assets and its JSON", async () => {
    const deps = depsFor({});
    for (const path of ["/", "/ui/app.js", "/ui/app.css", "/ui/jobs", "/dead-letters"]) {
      const r = await handleHttp(deps, req({ path }));
      assert.equal(r.status, 200, path);
      assert.equal(r.headers?.["x-content-type-options"], "nosniff", path);
      assert.match(r.headers?.["content-security-policy"] ?? "", /script-src 'self';/, path);
      assert.doesNotMatch(r.headers?.["content-security-policy"] ?? "", /unsafe-inline/, path);
    }
    assert.match((await handleHttp(deps, req({ path: "/ui/app.js" }))).headers?.["content-type"] ?? "", /^text\/javascript/);
  });

  it("open without a token, yet a write still needs the CSRF header or this origin", async () => {
    const deps = depsFor({});
    assert.equal((await handleHttp(deps, req({ method: "POST", path: "/ui/jobs/x/fail" }))).status, 403);
    assert.equal((await handleHttp(deps, req({ method: "POST", path: "/ui/jobs/x/fail", headers: { "x-ferry-csrf": "1" } }))).status, 404);
  });

  it("on AWS: the token is the statusPage secret, read once; /replications stays with the gateway", async () => {
    const reads: string[] = [];
    const deps = depsFor(
      { api: { statusPage: { tokenSecretArn: "arn:aws:secretsmanager:eu-west-1:1:secret:page" } } },
      {
        secretValue: async (arn) => {
          reads.push(arn);
          return '{"token":"from-sm"}';
        },
      },
    );
    assert.equal((await handleHttp(deps, req({ path: "/ui/jobs" }))).status, 401);
    assert.equal((await handleHttp(deps, req({ path: "/ui/jobs", headers: { authorization: "Bearer from-sm" } }))).status, 200);
    const ok = await handleHttp(deps, req({ method: "POST", path: "/login", body: form("from-sm") }));
    assert.equal(ok.status, 303);
    assert.deepEqual(reads, ["arn:aws:secretsmanager:eu-west-1:1:secret:page"]);
    assert.equal((await handleHttp(deps, req({ path: "/replications" }))).status, 200, "IAM at the gateway, no token in the function");
  });
});

const job = (over: Partial<Job>): Job => ({
  id: "j",
  status: "failed",
  request: { source: "ghcr.io/acme/app:v1", destinations: ["registry.example.com/mirror/app"], trigger: "webhook", eventTime: "t", rule: "acme" },
  createdAt: "t",
  updatedAt: "t",
  done: [],
  failed: [],
  ...over,
});

describe("what the page offers and shows", () => {
  it("retry re-opens a retryable failure and resubmits a permanent one; fail only while not final", () => {
    const e = (retryable: boolean) => ({ code: "REGISTRY" as const, message: "m", retryable });
    assert.deepEqual(actionsFor(job({ error: e(true) })), { redrive: false, fail: false, retry: "reopen" });
    assert.deepEqual(actionsFor(job({ error: e(false) })), { redrive: false, fail: false, retry: "resubmit" });
    assert.deepEqual(actionsFor(job({ status: "copying" })), { redrive: true, fail: true });
    assert.deepEqual(actionsFor(job({ status: "succeeded" })), { redrive: false, fail: false });
  });
  it("filters by status exactly and by source, destination and rule as substrings", () => {
    const j = job({});
    assert.equal(jobMatches(j, { status: "failed", source: "ACME/app", destination: "mirror", rule: "acm" }), true);
    assert.equal(jobMatches(j, { status: "fail" }), false);
    assert.equal(jobMatches(j, { destination: "ghcr" }), false);
    assert.equal(jobMatches(j, { rule: "other" }), false);
  });
  it("a dead letter shows its kind and job when its body parses, and a poison body as it is", () => {
    assert.deepEqual(deadLetterOf("m1", '{"v":1,"kind":"copy","jobId":"j1"}', { SentTimestamp: "5", ApproximateReceiveCount: "3" }), {
      id: "m1",
      sentAt: 5,
      receiveCount: 3,
      kind: "copy",
      jobId: "j1",
      body: '{"v":1,"kind":"copy","jobId":"j1"}',
    });
    assert.deepEqual(deadLetterOf("m2", "<not json>", {}), { id: "m2", body: "<not json>" });
  });
  it("escapes what the server writes into HTML", () => {
    assert.equal(escapeHtml(`<a href="x">'&`), "&#60;a href=&#34;x&#34;&#62;&#39;&#38;");
  });
  it("every colour pair has a contrast of at least 4.5:1", () => {
    const lum = (hex: string) => {
      const [r, g, b] = [1, 3, 5]
        .map((i) => Number.parseInt(hex.slice(i, i + 2), 16) / 255)
        .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
      return 0.2126 * (r as number) + 0.7152 * (g as number) + 0.0722 * (b as number);
    };
    for (const [name, fg, bg] of COLOUR_PAIRS) {
      const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a) as [number, number];
      const ratio = (hi + 0.05) / (lo + 0.05);
      assert.ok(ratio >= 4.5, `${name}: ${fg} on ${bg} is ${ratio.toFixed(2)}:1`);
      assert.ok(APP_CSS.includes(fg) && APP_CSS.includes(bg), `${name}: both colours are the stylesheet's`);
    }
  });
});
