/**
 * The transport's layers, each over a scripted wire (a Send that answers as a registry would),
 * and the order the client stacks them in: auth answers a 401 once per request (across its
 * retries too), retries follow one policy, credentials never follow a redirect to another host,
 * the rate budget is spent once per request and not per hop.
 */
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { FerryError, RegistryError } from "../../../lib/errors.ts";
import { Authenticator } from "../../../lib/registry/auth.ts";
import { authorizeLayer, reauthLayer } from "../../../lib/registry/auth-layer.ts";
import { staticCredentials } from "../../../lib/registry/credentials.ts";
import { errorLayer } from "../../../lib/registry/error-layer.ts";
import { compose, type Exchange, type Layer, type Reply, type Send } from "../../../lib/registry/exchange.ts";
import { rateLayer } from "../../../lib/registry/rate.ts";
import { redirectLayer } from "../../../lib/registry/redirect-layer.ts";
import { DEFAULT_RETRY } from "../../../lib/registry/retry.ts";
import { retryLayer } from "../../../lib/registry/retry-layer.ts";

const HOST = "registry.example.com";
const site = { host: HOST, side: "destination" as const };
const policy = { ...DEFAULT_RETRY, maxAttempts: 3, baseDelayMs: 1 };
const CHALLENGE = `Bearer realm="https://${HOST}/token",service="reg"`;

/** A response body as undici gives it: a readable stream with `dump()`. */
function body(text = ""): Reply["body"] {
  const r = Readable.from(text ? [Buffer.from(text)] : []) as Readable & { dump?: () => Promise<void> };
  r.dump = async () => {
    r.resume();
  };
  return r as unknown as Reply["body"];
}

/** The wire: answers each request with the next scripted answer and records what was sent. */
function wire(...answers: Array<(req: Exchange) => { status: number; headers?: Record<string, string>; text?: string } | Error>) {
  const sent: Exchange[] = [];
  const send: Send = async (req) => {
    sent.push(req);
    const answer = answers[Math.min(sent.length, answers.length) - 1];
    assert.ok(answer, "no scripted answer");
    const a = answer(req);
    if (a instanceof Error) throw a;
    return { status: a.status, headers: a.headers ?? {}, body: body(a.text), url: req.url, sentCredentials: req.headers.authorization !== undefined };
  };
  return { send, sent, auth: () => sent.map((r) => r.headers.authorization ?? "-") };
}

function exchange(over: Partial<Exchange> = {}): Exchange {
  return {
    method: "GET",
    url: new URL(`https://${HOST}/v2/app/manifests/v1`),
    headers: {},
    expect: [200],
    auth: { scopes: ["repository:app:pull"], forBody: false, learned: false, refreshed: false },
    ...over,
  };
}

/** An Authenticator whose realm hands out t1, t2, ... and counts the asks. */
function authenticator() {
  const asked: string[] = [];
  const auth = new Authenticator({
    host: HOST,
    credentials: staticCredentials("u", "p"),
    fetchToken: async (url) => {
      asked.push(String(url));
      return { status: 200, text: JSON.stringify({ token: `t${asked.length}`, expires_in: 300 }) };
    },
  });
  return { auth, asked };
}

const unauthorized = () => ({ status: 401, headers: { "www-authenticate": CHALLENGE } });
const ok = () => ({ status: 200 });

describe("compose", () => {
  it("stacks the first layer outermost", async () => {
    const seen: string[] = [];
    const tag =
      (name: string): Layer =>
      (next) =>
      async (req) => {
        seen.push(`${name} in`);
        const res = await next(req);
        seen.push(`${name} out`);
        return res;
      };
    await compose(tag("a"), tag("b"), tag("c"))(wire(ok).send)(exchange());
    assert.deepEqual(seen, ["a in", "b in", "c in", "c out", "b out", "a out"]);
  });
});

describe("auth layers", () => {
  const stack = (auth: Authenticator, send: Send) => compose(retryLayer(policy), errorLayer(site), reauthLayer(auth), authorizeLayer(auth, HOST))(send);

  it("learns the challenge from a 401, then sends the token", async () => {
    const { auth, asked } = authenticator();
    const w = wire(unauthorized, ok);
    assert.equal((await stack(auth, w.send)(exchange())).status, 200);
    assert.deepEqual(w.auth(), ["-", "Bearer t1"]);
    assert.equal(asked.length, 1);
  });

  it("refreshes refused credentials once, then lets the 401 through as an error", async () => {
    const { auth, asked } = authenticator();
    const w = wire(unauthorized);
    await assert.rejects(stack(auth, w.send)(exchange()), (e: unknown) => e instanceof RegistryError && e.status === 401 && e.side === "destination");
    assert.deepEqual(w.auth(), ["-", "Bearer t1", "Bearer t2"]);
    assert.equal(asked.length, 2);
  });

  it("answers a 401 once per request, not once per retry", async () => {
    const { auth, asked } = authenticator();
    // learn, refused, refreshed but the registry is busy (503, retried), refused again: stop
    const w = wire(unauthorized, unauthorized, () => ({ status: 503 }), unauthorized);
    await assert.rejects(stack(auth, w.send)(exchange()), (e: unknown) => e instanceof RegistryError && e.status === 401);
    assert.deepEqual(w.auth(), ["-", "Bearer t1", "Bearer t2", "Bearer t2"]);
    assert.equal(asked.length, 2);
  });

  it("grows the request's scopes by what the challenge names, and keeps them for its retries", async () => {
    const { auth, asked } = authenticator();
    const wider = () => ({ status: 401, headers: { "www-authenticate": `${CHALLENGE},scope="repository:base:pull"` } });
    const w = wire(unauthorized, wider, () => ({ status: 503 }), ok);
    const req = exchange();
    assert.equal((await stack(auth, w.send)(req)).status, 200);
    assert.deepEqual(req.auth?.scopes, ["repository:base:pull", "repository:app:pull"]);
    assert.ok(asked[1]?.includes("scope=repository%3Abase%3Apull"), asked[1]);
    assert.equal(asked.length, 2, "the retry after the 503 reuses the wider token");
  });

  it("never replays a streamed body: its 401 is an error at once", async () => {
    const { auth } = authenticator();
    const w = wire(unauthorized);
    await assert.rejects(
      stack(auth, w.send)(exchange({ method: "PUT", stream: Readable.from([]) })),
      (e: unknown) => e instanceof RegistryError && e.status === 401,
    );
    assert.equal(w.sent.length, 1);
  });
});

describe("retry layer", () => {
  const stack = (send: Send) => compose(retryLayer(policy), errorLayer(site))(send);
  const busy = () => ({ status: 503 });

  it("retries a retryable answer up to the policy's attempts", async () => {
    const w = wire(busy);
    await assert.rejects(stack(w.send)(exchange()), (e: unknown) => e instanceof RegistryError && e.status === 503 && e.retryable);
    assert.equal(w.sent.length, policy.maxAttempts);
  });

  it("retries a network error, mapped to NETWORK with the side", async () => {
    const reset = () => Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    const w = wire(reset, ok);
    assert.equal((await stack(w.send)(exchange())).status, 200);
    const e = await stack(wire(reset).send)(exchange()).catch((x: unknown) => x);
    assert.ok(e instanceof FerryError && e.code === "NETWORK" && e.side === "destination" && e.retryable);
  });

  it("does not retry a POST, a PATCH or a streamed body unless the request says so", async () => {
    for (const req of [exchange({ method: "POST" }), exchange({ method: "PATCH" }), exchange({ method: "PUT", stream: Readable.from([]) })]) {
      const w = wire(busy);
      await assert.rejects(stack(w.send)(req));
      assert.equal(w.sent.length, 1, req.method);
    }
    const w = wire(busy, ok);
    assert.equal((await stack(w.send)(exchange({ method: "POST", retry: true }))).status, 200);
  });

  it("does not retry what the policy calls final (404)", async () => {
    const w = wire(() => ({ status: 404 }));
    await assert.rejects(stack(w.send)(exchange()), (e: unknown) => e instanceof RegistryError && e.status === 404);
    assert.equal(w.sent.length, 1);
  });
});

describe("layer order: rate, redirects, authorize", () => {
  it("spends one budget token per request, not per hop, and sends credentials only to the registry's host", async () => {
    const { auth } = authenticator();
    auth.setChallenge({ scheme: "bearer", params: { realm: `https://${HOST}/token` } });
    let taken = 0;
    const budget = {
      take: async () => {
        taken++;
      },
    };
    const w = wire(
      () => ({ status: 307, headers: { location: "https://cdn.example.net/blob?sig=x" } }),
      () => ({ status: 302, headers: { location: `https://${HOST}/v2/app/blobs/again` } }),
      ok,
    );
    const send = compose(errorLayer(site), reauthLayer(auth), rateLayer(budget), redirectLayer(site), authorizeLayer(auth, HOST))(w.send);
    const res = await send(exchange({ followRedirects: true }));
    assert.equal(res.url.toString(), `https://${HOST}/v2/app/blobs/again`);
    assert.deepEqual(
      w.sent.map((r) => `${r.url.host} ${r.headers.authorization ?? "-"}`),
      [`${HOST} Bearer t1`, "cdn.example.net -", `${HOST} Bearer t1`],
    );
    assert.equal(taken, 1);
  });

  it("refuses a redirect from a public registry to a private address", async () => {
    const w = wire(() => ({ status: 302, headers: { location: "http://169.254.169.254/latest/meta-data" } }));
    const send = compose(errorLayer(site), redirectLayer(site))(w.send);
    await assert.rejects(
      send(exchange({ followRedirects: true })),
      (e: unknown) => e instanceof FerryError && e.code === "REDIRECT_REFUSED" && e.side === "destination",
    );
  });

  it("returns a redirect as it is when the request does not follow them", async () => {
    const w = wire(() => ({ status: 307, headers: { location: "https://cdn.example.net/x" } }));
    const send = compose(errorLayer(site), redirectLayer(site))(w.send);
    await assert.rejects(send(exchange()), (e: unknown) => e instanceof RegistryError && e.status === 307);
    assert.equal(w.sent.length, 1);
  });
});
