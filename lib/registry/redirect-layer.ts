/** Redirect layer: for requests that ask, follows up to five http(s) redirects, never from a public registry to a private address; each hop reaches `next` without a body. */
import { FerryError } from "../errors.ts";
import { mayFollow } from "./address.ts";
import type { ErrorSite } from "./error-layer.ts";
import type { Layer } from "./exchange.ts";
import { redactUrl } from "./redact.ts";
import { drain, header } from "./transport.ts";

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
export const MAX_REDIRECTS = 5;

/**
 * Follows redirects for requests with `followRedirects` (blob GETs to storage hosts); others pass
 * straight through. Layers below decide per hop what to send (Authorization only to the
 * registry's own host); the Reply's `url` is the last hop's.
 */
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
