/**
 * Redirects, for requests that ask to follow them (blob GETs): up to five hops, http(s) only,
 * never from a public registry to a private or link-local address (address.ts). Contract: each
 * hop goes to `next` without a body; layers below decide per hop what to send (Authorization
 * only to the registry's own host). The Reply's `url` is the last hop's.
 */
import { FerryError } from "../errors.ts";
import { mayFollow } from "./address.ts";
import type { ErrorSite } from "./error-layer.ts";
import type { Layer } from "./exchange.ts";
import { redactUrl } from "./redact.ts";
import { drain, header } from "./transport.ts";

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
export const MAX_REDIRECTS = 5;

/** Follows redirects for requests with `followRedirects`; others pass straight through. */
export function redirectLayer(site: ErrorSite): Layer {
  return (next) => async (req) => {
    if (!req.followRedirects) return next(req);
    const start = req.url;
    let hop = req;
    for (let n = 0; ; n++) {
      const res = await next(hop);
      const location = header(res.headers, "location");
      if (!(REDIRECTS.has(res.status) && location)) return res;
      await drain(res.body);
      const url = new URL(location, hop.url);
      if (n >= MAX_REDIRECTS) {
        throw new FerryError("REDIRECT_REFUSED", `${redactUrl(start)}: more than ${MAX_REDIRECTS} redirects`, { side: site.side });
      }
      if (!/^https?:$/.test(url.protocol) || !mayFollow(site.host, url.host)) {
        throw new FerryError("REDIRECT_REFUSED", `${redactUrl(start)}: refusing redirect to ${url.protocol}//${url.host}`, { side: site.side });
      }
      hop = { ...req, url, body: undefined, stream: undefined };
    }
  };
}
