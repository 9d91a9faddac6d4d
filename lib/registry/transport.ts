/**
 * The HTTP plumbing under the transport's layers: one undici Agent per host setting (TLS,
 * connection cap), TLS error naming, and response helpers that always drain bodies so sockets
 * are reused and never read more of a body than asked. Scheme probing is in scheme.ts.
 */
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import type { Dispatcher } from "undici";
import { Agent } from "./undici-lite.ts";
import { FerryError, type OciErrorEntry, RegistryError, type Side } from "../errors.ts";
import { redactUrl } from "./redact.ts";
import { parseRetryAfter } from "./retry.ts";
import type { TransferSettings } from "./stall.ts";

/** TLS and connection settings for one registry host. */
export interface TransportOptions {
  /** Always use plain HTTP for this host. */
  plainHttp?: boolean;
  /** Skip TLS certificate verification (explicit opt-in only). */
  insecure?: boolean;
  /** PEM file with extra CA certificates, trusted beside the system's. */
  caFile?: string;
  /** PEM text with extra CA certificates. */
  caPem?: string;
  /** Cap on concurrent connections (and so requests) per origin. Default 16. */
  maxConnectionsPerHost?: number;
  /** Stall guards on every read (stall.ts); defaults in `DEFAULT_TRANSFER`. */
  transfer?: Partial<TransferSettings>;
}

export const DEFAULT_MAX_CONNECTIONS_PER_HOST = 16;

/** Creates the undici Agent for these settings. */
export function createAgent(opts: TransportOptions): Agent {
  const extra = opts.caPem ?? (opts.caFile ? readCa(opts.caFile) : undefined);
  return new Agent({
    connections: opts.maxConnectionsPerHost ?? DEFAULT_MAX_CONNECTIONS_PER_HOST,
    pipelining: 1,
    keepAliveTimeout: 10_000,
    // A backstop only: every registry request carries the stall guard's own timeouts (stall.ts).
    headersTimeout: 300_000,
    bodyTimeout: 300_000,
    connect: {
      rejectUnauthorized: !opts.insecure,
      ...(extra ? { ca: [...rootCertificates, extra] } : {}),
    },
  });
}

function readCa(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new FerryError("INVALID_CONFIG", `cannot read CA file ${file}: ${(e as Error).message}`);
  }
}

const TLS_CERT_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
]);

/** Turns certificate failures into a clear TLS error; other errors pass through. */
export function tlsError(err: unknown, host: string, side?: Side): unknown {
  const code = (err as { code?: string } | null)?.code;
  if (code && TLS_CERT_CODES.has(code)) {
    return new FerryError("TLS", `${host}: TLS certificate verification failed (${code}); pass the registry's CA (--ca-file) or, if you must, --insecure`, {
      side,
      cause: err,
    });
  }
  return err;
}

/** First value of a response header. */
export function header(headers: Dispatcher.ResponseData["headers"], name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Reads at most `max` bytes of a body, then discards the rest. */
export async function readCapped(body: Dispatcher.ResponseData["body"], max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    const b = chunk as Buffer;
    if (n + b.byteLength > max) {
      chunks.push(b.subarray(0, max - n));
      n = max;
      await body.dump().catch(() => undefined);
      break;
    }
    chunks.push(b);
    n += b.byteLength;
  }
  return Buffer.concat(chunks, n);
}

/** Drains a body so its socket goes back to the pool. Never throws. */
export async function drain(body: Dispatcher.ResponseData["body"] | undefined): Promise<void> {
  if (!body) return;
  await body.dump({ limit: 1024 * 1024 }).catch(() => undefined);
}

const MAX_ERROR_BODY = 64 * 1024;

/**
 * Builds a RegistryError from a failed response: OCI error JSON when there is one, else a
 * snippet of text/HTML/XML (S3 after a redirect). Reads at most 64 KiB; HEAD has no body.
 */
export async function responseError(res: Dispatcher.ResponseData, method: string, url: URL, side: Side | undefined): Promise<RegistryError> {
  let text = "";
  let codes: OciErrorEntry[] = [];
  if (method !== "HEAD") {
    try {
      text = (await readCapped(res.body, MAX_ERROR_BODY)).toString("utf8");
    } catch {
      text = "";
    }
    codes = parseOciErrors(text);
  } else {
    await drain(res.body);
  }
  if (codes.length === 0) {
    const s3 = /<Code>([^<]+)<\/Code>(?:[\s\S]*?<Message>([^<]*)<\/Message>)?/.exec(text);
    if (s3?.[1]) codes = [{ code: s3[1], ...(s3[2] ? { message: s3[2] } : {}) }];
  }
  return new RegistryError({
    status: res.statusCode,
    method,
    url: redactUrl(url),
    ociCodes: codes,
    bodyText: /^\s*</.test(text) ? text.replace(/<[^>]+>/g, " ") : text,
    side,
    retryAfterMs: parseRetryAfter(res.headers["retry-after"]),
    rateLimit: parseRateLimit(res.headers),
  });
}

/** Docker Hub's `ratelimit-limit: 100;w=21600` and `ratelimit-remaining` (first numbers). */
export function parseRateLimit(headers: Dispatcher.ResponseData["headers"]): { limit: number; remaining: number } | undefined {
  const limit = Number.parseInt(header(headers, "ratelimit-limit") ?? "", 10);
  const remaining = Number.parseInt(header(headers, "ratelimit-remaining") ?? "", 10);
  return Number.isNaN(limit) || Number.isNaN(remaining) ? undefined : { limit, remaining };
}

/** Parses `{"errors":[{"code","message","detail"}]}`; anything else gives []. */
export function parseOciErrors(text: string): OciErrorEntry[] {
  if (!text.trimStart().startsWith("{")) return [];
  try {
    const j = JSON.parse(text) as { errors?: unknown };
    if (!Array.isArray(j.errors)) return [];
    return j.errors
      .filter((e): e is { code: string; message?: unknown; detail?: unknown } => typeof e?.code === "string")
      .map((e) => ({
        code: e.code,
        ...(typeof e.message === "string" ? { message: e.message } : {}),
        ...(e.detail !== undefined ? { detail: e.detail } : {}),
      }));
  } catch {
    return [];
  }
}
