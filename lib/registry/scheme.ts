/** Scheme layer: settles https or http once per host (a bare TLS handshake for loopback hosts, as docker) and resolves each request's path against it. */
import { connect as tlsConnect } from "node:tls";
import { FerryError } from "../errors.ts";
import { isLoopbackHost } from "./address.ts";
import { type ErrorSite, mapError } from "./error-layer.ts";
import type { Exchange, RegistryRequest, Send } from "./exchange.ts";
import { abortError } from "./retry.ts";

const TLS_PROTOCOL_CODES = new Set(["ERR_SSL_WRONG_VERSION_NUMBER", "ERR_SSL_PACKET_LENGTH_TOO_LONG", "EPROTO"]);

/** True when a TLS handshake failed because the server speaks plain HTTP. */
export function isPlainHttpAnswer(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code !== undefined && TLS_PROTOCOL_CODES.has(code);
}

/** Which scheme to try first and whether plain HTTP may follow: configured hosts and loopback. */
export function schemeCandidates(host: string, opts: { plainHttp?: boolean }): Array<"https" | "http"> {
  if (opts.plainHttp) return ["http"];
  return isLoopbackHost(host) ? ["https", "http"] : ["https"];
}

/**
 * The base URL of one host, settled by the first request and kept: configured plain-HTTP hosts
 * use http, others https, except that a loopback server which does not speak TLS gets plain HTTP.
 * That is found with a bare TLS handshake, not an HTTP request (certificates are checked on the
 * real requests).
 */
export class SchemeProbe {
  private settled: URL | undefined;
  private probing: Promise<URL> | undefined;

  constructor(
    private readonly host: string,
    private readonly opts: { plainHttp?: boolean },
  ) {}

  /** `https://host` or `http://host`, once settled. */
  get base(): URL | undefined {
    return this.settled;
  }

  /** Settles the scheme (concurrent callers share one probe; a failed probe is tried again next time). */
  settle(signal?: AbortSignal): Promise<URL> {
    if (this.settled) return Promise.resolve(this.settled);
    this.probing ??= (async () => {
      const candidates = schemeCandidates(this.host, this.opts);
      const scheme = candidates.length === 1 ? candidates[0] : (await speaksTls(this.host, signal)) ? "https" : "http";
      this.settled = new URL(`${scheme}://${this.host}`);
      return this.settled;
    })().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }
}

/**
 * Turns an operation's request into an Exchange on the settled base URL (absolute paths, an
 * upload Location, are kept). A failed probe is a NETWORK error of `site`'s side, like any request's.
 */
export function schemeLayer(probe: SchemeProbe, site: ErrorSite, exchange: (r: RegistryRequest, url: URL) => Exchange): (next: Send) => Send<RegistryRequest> {
  return (next) => async (r) => {
    if (r.signal?.aborted) throw abortError(r.signal);
    const base =
      probe.base ??
      (await probe.settle(r.signal).catch((e: unknown) => {
        throw r.signal?.aborted ? abortError(r.signal) : mapError(e, site, r.method, new URL(`https://${site.host}/`), r.signal);
      }));
    return next(exchange(r, /^https?:\/\//i.test(r.path) ? new URL(r.path) : new URL(r.path, base)));
  };
}

/** True when the server at `host` completes a TLS handshake; false when it answers in plain HTTP. */
export function speaksTls(host: string, signal?: AbortSignal): Promise<boolean> {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
  const hostname = (m?.[1] ?? host).replace(/^\[|\]$/g, "");
  const port = Number(m?.[2] ?? 443);
  return new Promise((resolve, reject) => {
    // Only the protocol is probed here; certificates are verified on the real requests.
    const s = tlsConnect({ host: hostname, port, rejectUnauthorized: false, ...(signal ? { signal } : {}) });
    const done = (v: boolean | Error) => {
      s.destroy();
      if (v instanceof Error) reject(v);
      else resolve(v);
    };
    s.once("secureConnect", () => done(true));
    s.once("error", (e) => done(isPlainHttpAnswer(e) ? false : e));
    s.setTimeout(10_000, () => done(new FerryError("NETWORK", `${host}: TLS probe timed out`, { retryable: true })));
  });
}
