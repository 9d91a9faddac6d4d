/**
 * A loopback reverse proxy in front of a plain-HTTP registry that injects faults, chosen by a
 * seeded PRNG at a rate per kind:
 *
 * - `503`: an OCI error body (`UNAVAILABLE`);
 * - `429`: `Retry-After: 1` and an OCI error body (`TOOMANYREQUESTS`);
 * - `reset`: the client's socket is destroyed instead of an answer;
 * - `cut`: the headers and part of the body, then the socket is destroyed (an upload's body is
 *   cut on its way to the registry instead, half the time);
 * - `stall`: the answer is held for `stallSeconds` (before the headers or mid-body), then it
 *   goes on or is cut.
 *
 * `503`, `429` and `reset` happen before the request reaches the registry or after the registry
 * answered it (`afterShare`), so a manifest PUT can fail at the client although the registry
 * applied it. Bodies stream both ways (nothing is buffered); `Location` headers that point at
 * the registry are rewritten to the proxy so uploads keep going through it.
 */
import { Agent, createServer, type IncomingMessage, type OutgoingHttpHeaders, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type FaultKind = "503" | "429" | "reset" | "cut" | "stall";
export const FAULT_KINDS: readonly FaultKind[] = ["503", "429", "reset", "cut", "stall"];

/** Probability per request of each kind (their sum is capped at 1). */
export type FaultRates = Partial<Record<FaultKind, number>>;

export type FaultCounts = Record<FaultKind, number> & { total: number };

/** One injected fault, for diagnostics. */
export interface FaultEvent {
  kind: FaultKind;
  method: string;
  path: string;
  /** before: the registry never saw the request; after: it answered (and applied) it. */
  phase: "before" | "after";
  /** cut: `request` or `response`; stall: `headers` or `body`, and whether it then cut. */
  detail?: string;
}

export interface FaultProxyOptions {
  /** Seeds the PRNG (default 1). */
  seed?: number;
  rates?: FaultRates;
  /** Share of 503/429/reset faults given after the registry answered (default 0.5). */
  afterShare?: number;
  /** Seconds a stall holds the answer (default 3). */
  stallSeconds?: number;
  /** Share of stalls that end in a cut rather than going on (default 0.5). */
  stallCutShare?: number;
  /** Share of cuts on requests with a body that cut the upload rather than the answer (default 0.5). */
  requestCutShare?: number;
  /** Which requests may get a fault (default all). */
  eligible?: (method: string, path: string) => boolean;
}

export interface FaultProxy {
  /** `127.0.0.1:port` of the proxy. */
  host: string;
  /** The registry behind it. */
  target: string;
  /** Faults injected so far, per kind. */
  faults(): FaultCounts;
  /** The most recent faults (up to 2,000). */
  events(): FaultEvent[];
  /** Requests received so far. */
  requests(): number;
  /** Replaces the rates (kinds left out become 0). */
  setRates(rates: FaultRates): void;
  stop(): Promise<void>;
}

/** mulberry32: a small, fast, seedable PRNG returning [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ociError = (code: string, message: string) => JSON.stringify({ errors: [{ code, message, detail: { injectedBy: "fault-proxy" } }] });

function hasBody(req: IncomingMessage): boolean {
  const len = Number(req.headers["content-length"] ?? 0);
  return len > 0 || req.headers["transfer-encoding"] !== undefined;
}

/** Starts a fault proxy in front of `target` (`host:port`, plain HTTP). */
export async function startFaultProxy(target: string, opts: FaultProxyOptions = {}): Promise<FaultProxy> {
  const [thost, tport] = target.split(":") as [string, string];
  const random = seededRandom(opts.seed ?? 1);
  const afterShare = opts.afterShare ?? 0.5;
  const stallMs = (opts.stallSeconds ?? 3) * 1000;
  const stallCutShare = opts.stallCutShare ?? 0.5;
  const requestCutShare = opts.requestCutShare ?? 0.5;
  let rates: FaultRates = { ...opts.rates };
  const counts: FaultCounts = { "503": 0, "429": 0, reset: 0, cut: 0, stall: 0, total: 0 };
  const recent: FaultEvent[] = [];
  let received = 0;
  const timers = new Set<NodeJS.Timeout>();
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let proxyHost = "";

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const draw = (): FaultKind | undefined => {
    const u = random();
    let acc = 0;
    for (const k of FAULT_KINDS) {
      acc += Math.max(0, rates[k] ?? 0);
      if (u < acc) return k;
    }
    return undefined;
  };

  const record = (e: FaultEvent) => {
    counts[e.kind]++;
    counts.total++;
    recent.push(e);
    if (recent.length > 2000) recent.shift();
  };

  const rewrite = (headers: IncomingMessage["headers"]): OutgoingHttpHeaders => {
    const out: OutgoingHttpHeaders = { ...headers };
    if (typeof out.location === "string") out.location = out.location.replace(`//${target}`, `//${proxyHost}`);
    return out;
  };

  /** Answers with an injected 503 or 429. */
  const errorAnswer = (kind: "503" | "429", res: ServerResponse) => {
    if (res.headersSent || res.destroyed) return;
    const body = kind === "503" ? ociError("UNAVAILABLE", "fault proxy: service unavailable") : ociError("TOOMANYREQUESTS", "fault proxy: too many requests");
    res.writeHead(Number(kind), {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      ...(kind === "429" ? { "retry-after": "1" } : {}),
    });
    res.end(body);
  };

  /** Destroys the client's connection: it sees a reset or a premature close. */
  const hangUp = (res: ServerResponse) => {
    (res.socket as Socket | null)?.destroy();
    res.destroy();
  };

  type Upstream = { status: number; headers: OutgoingHttpHeaders; body: IncomingMessage };

  /**
   * Sends the request to the registry (its body streamed, or cut after `cutRequestAt` bytes) and
   * calls `onAnswer` with the registry's answer. Client and registry sides are torn down together.
   */
  const forward = (req: IncomingMessage, res: ServerResponse, onAnswer: (up: Upstream) => void, cutRequestAt?: number) => {
    const up = request({ host: thost, port: Number(tport), method: req.method, path: req.url, headers: { ...req.headers, host: target }, agent }, (r) => {
      r.on("error", () => hangUp(res));
      onAnswer({ status: r.statusCode ?? 502, headers: rewrite(r.headers), body: r });
    });
    up.on("error", () => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(502, { "content-type": "application/json" });
        res.end(ociError("UNAVAILABLE", "fault proxy: upstream unreachable"));
      } else hangUp(res);
    });
    res.on("close", () => {
      if (!res.writableFinished) up.destroy();
    });
    if (cutRequestAt === undefined) {
      req.pipe(up);
      return;
    }
    // Part of the upload, then both connections go: the registry sees a truncated body.
    let sent = 0;
    req.on("data", (chunk: Buffer) => {
      if (sent >= cutRequestAt) return;
      const part = chunk.subarray(0, Math.max(0, cutRequestAt - sent));
      sent += part.byteLength;
      if (part.byteLength > 0) up.write(part);
      if (sent >= cutRequestAt) {
        req.pause();
        up.destroy();
        hangUp(res);
      }
    });
    req.on("end", () => {
      up.destroy();
      hangUp(res);
    });
  };

  /** Streams the registry's answer to the client, with backpressure. */
  const pass = (up: Upstream, res: ServerResponse) => {
    if (res.destroyed) {
      up.body.destroy();
      return;
    }
    if (!res.headersSent) res.writeHead(up.status, up.headers);
    if (up.body.readableEnded) res.end();
    else up.body.pipe(res);
  };

  /**
   * Sends the headers and the body up to `at` bytes, then calls `then` (the rest of the body is
   * left unread in `up.body`). A body-less answer cannot be cut after its headers: `then` runs
   * before them.
   */
  const sendPart = (up: Upstream, res: ServerResponse, method: string, fraction: number, then: () => void) => {
    const length = Number(up.headers["content-length"] ?? Number.NaN);
    const bodyless = method === "HEAD" || up.status === 204 || up.status === 304 || length === 0;
    if (bodyless) {
      then();
      return;
    }
    res.writeHead(up.status, up.headers);
    const at = Number.isFinite(length) ? Math.floor(length * fraction) : -1;
    let sent = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      up.body.pause();
      up.body.removeListener("data", onData);
      up.body.removeListener("end", onEnd);
      then();
    };
    const onData = (chunk: Buffer) => {
      // Unknown length: half of the first chunk.
      const limit = at >= 0 ? at : Math.floor(chunk.byteLength / 2);
      const part = chunk.subarray(0, Math.max(0, limit - sent));
      sent += part.byteLength;
      if (sent >= limit || at < 0) {
        up.body.pause();
        // Let the part reach the client before anything else happens.
        res.write(part, () => finish());
        // What was not sent goes back to the stream, for a stall that goes on.
        const rest = chunk.subarray(part.byteLength);
        up.body.removeListener("data", onData);
        if (rest.byteLength > 0) up.body.unshift(rest);
        return;
      }
      if (!res.write(part)) {
        up.body.pause();
        res.once("drain", () => {
          if (!done) up.body.resume();
        });
      }
    };
    const onEnd = () => finish();
    up.body.on("data", onData);
    up.body.on("end", onEnd);
  };

  const server: Server = createServer((req, res) => {
    received++;
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const kind = opts.eligible && !opts.eligible(method, path) ? undefined : draw();
    res.on("error", () => {});
    req.on("error", () => {});
    if (!kind) {
      forward(req, res, (up) => pass(up, res));
      return;
    }
    switch (kind) {
      case "503":
      case "429":
      case "reset": {
        const after = random() < afterShare;
        record({ kind, method, path, phase: after ? "after" : "before" });
        const fault = () => (kind === "reset" ? hangUp(res) : errorAnswer(kind, res));
        if (after) {
          forward(req, res, (up) => {
            up.body.resume(); // drain the registry's answer; the client gets the fault instead
            up.body.on("end", fault);
          });
        } else if (kind === "reset") {
          fault();
        } else {
          req.resume(); // discard the upload
          fault();
        }
        return;
      }
      case "cut": {
        if (hasBody(req) && random() < requestCutShare) {
          const length = Number(req.headers["content-length"] ?? Number.NaN);
          const at = Number.isFinite(length) ? Math.floor(length * random()) : 0;
          record({ kind, method, path, phase: "before", detail: `request at ${at}` });
          forward(req, res, () => hangUp(res), at);
          return;
        }
        const fraction = random();
        record({ kind, method, path, phase: "after", detail: "response" });
        forward(req, res, (up) =>
          sendPart(up, res, method, fraction, () => {
            up.body.destroy();
            const socket = res.socket;
            // A body-less answer is cut inside its status line.
            if (!res.headersSent && socket) socket.end(`HTTP/1.1 ${up.status} `, () => socket.destroy());
            else hangUp(res);
          }),
        );
        return;
      }
      case "stall": {
        const cut = random() < stallCutShare;
        const midBody = random() < 0.5;
        const fraction = random();
        record({ kind, method, path, phase: "after", detail: `${midBody ? "body" : "headers"}${cut ? ", then cut" : ""}` });
        forward(req, res, (up) => {
          const resume = () =>
            later(stallMs, () => {
              if (res.destroyed) {
                up.body.destroy();
                return;
              }
              if (cut) {
                up.body.destroy();
                hangUp(res);
              } else pass(up, res);
            });
          if (midBody) sendPart(up, res, method, fraction, resume);
          else {
            up.body.pause();
            resume();
          }
        });
        return;
      }
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  proxyHost = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host: proxyHost,
    target,
    faults: () => ({ ...counts }),
    events: () => [...recent],
    requests: () => received,
    setRates(r) {
      rates = { ...r };
    },
    async stop() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      agent.destroy();
    },
  };
}
