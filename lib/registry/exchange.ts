/** A Send turns an Exchange into a Reply (its body for the caller to consume) or throws; a Layer wraps a Send and keeps that contract. */
import type { Dispatcher } from "undici";

/** Per-call controls. */
export interface CallOptions {
  signal?: AbortSignal;
  /**
   * Epoch milliseconds (a Lambda's remaining time, less what recording the outcome needs): no
   * retry starts after it, and requests still in flight then are aborted with DEADLINE.
   */
  deadline?: number;
}

export type Method = "GET" | "HEAD" | "PUT" | "POST" | "PATCH" | "DELETE";

/** A request as an operation states it, against a registry host. */
export interface RegistryRequest extends CallOptions {
  method: Method;
  /** Path under the registry (`/v2/...`) or an absolute URL (an upload Location). */
  path: string;
  /** Repository whose scope the request needs. */
  repo?: string;
  /** Needs push rights on `repo`. */
  push?: boolean;
  extraScopes?: string[];
  headers?: Record<string, string>;
  /** A replayable body. */
  body?: Buffer | string;
  /** A one-shot streamed body: the request is then never retried here. */
  stream?: AsyncIterable<Uint8Array> | NodeJS.ReadableStream;
  /** Statuses that count as success. */
  expect: number[];
  /** Follow redirects (blob GETs), dropping Authorization on other hosts. */
  followRedirects?: boolean;
  /** Override: retry even a POST, or never retry. */
  retry?: boolean;
  headersTimeout?: number;
}

/**
 * What the auth layers need of one request, and what they have tried for it. One object per
 * request, shared by its attempts: a 401 is answered once per request, not once per retry.
 */
export interface RequestAuth {
  /** Scopes the request needs; grows when a 401 names more. */
  scopes: string[];
  /** The request sends a body: its token must stay valid long enough. */
  forBody: boolean;
  /** A 401 to a request sent without credentials taught the challenge. */
  learned: boolean;
  /** A 401 to a request sent with credentials made us refetch them. */
  refreshed: boolean;
}

/** A request on its way through the layers: an absolute URL and its final headers. */
export interface Exchange extends CallOptions {
  method: Method;
  url: URL;
  headers: Record<string, string>;
  body?: Buffer | string | undefined;
  stream?: AsyncIterable<Uint8Array> | NodeJS.ReadableStream | undefined;
  expect: readonly number[];
  followRedirects?: boolean;
  retry?: boolean;
  headersTimeout?: number;
  /** Absent for requests that never carry the registry's credentials (a token fetch). */
  auth?: RequestAuth;
}

/** A response; `body` must be consumed or drained by the caller. */
export interface Reply {
  status: number;
  /** The request carried an Authorization header. */
  sentCredentials?: boolean;
  headers: Dispatcher.ResponseData["headers"];
  body: Dispatcher.ResponseData["body"];
  /** Final URL (after redirects). */
  url: URL;
}

/** Sends one request. */
export type Send<R = Exchange> = (req: R) => Promise<Reply>;

/** Wraps a Send with one concern (auth, retry, redirects...), as go-containerregistry's transport wrappers and undici's interceptors. */
export type Layer = (next: Send) => Send;

/** `compose(a, b, c)(send)` is `a(b(c(send)))`: the first layer is the outermost. */
export function compose(...layers: Layer[]): (send: Send) => Send {
  return (send) => layers.reduceRight((next, layer) => layer(next), send);
}
