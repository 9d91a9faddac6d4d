/** Innermost Send: exactly one HTTP exchange on the client's undici dispatcher (stall-guarded), as the request says; no retries, redirects or auth. */
import type { Dispatcher } from "undici";
import type { Send } from "./exchange.ts";

/** Sends each Exchange once on `dispatcher`, with `userAgent` unless the request sets one. */
export function dispatchSend(dispatcher: Dispatcher, userAgent: string): Send {
  return async (req) => {
    const headers: Record<string, string> = { "user-agent": userAgent, ...req.headers };
    const res = await dispatcher.request({
      origin: req.url.origin,
      path: req.url.pathname + req.url.search,
      method: req.method,
      headers,
      body: (req.body ?? req.stream) as Dispatcher.DispatchOptions["body"],
      signal: req.signal,
      // undici closes the socket after every HEAD (a guard against servers that send HEAD
      // bodies); registries do not, and up-to-date checks are all HEADs: keep the connection.
      ...(req.method === "HEAD" ? { reset: false } : {}),
      ...(req.headersTimeout ? { headersTimeout: req.headersTimeout } : {}),
    });
    return { status: res.statusCode, headers: res.headers, body: res.body, url: req.url, sentCredentials: headers.authorization !== undefined };
  };
}
