/** Error layer: only Replies with a status in `expect` pass; any other answer becomes a RegistryError, any failure below a FerryError naming the side. */
import type { Dispatcher } from "undici";
import { FerryError, type Side } from "../errors.ts";
import type { Layer } from "./exchange.ts";
import { redactUrl } from "./redact.ts";
import { abortError, isNetworkError } from "./retry.ts";
import { responseError, tlsError } from "./transport.ts";

/** The registry and side errors are about. */
export interface ErrorSite {
  readonly host: string;
  readonly side: Side | undefined;
}

/** Maps a failure of `method url` to a FerryError with `site.side`; unknown errors pass through. */
export function mapError(err: unknown, site: ErrorSite, method: string, url: URL, signal?: AbortSignal): unknown {
  if (signal?.aborted) return abortError(signal);
  const t = tlsError(err, site.host, site.side);
  if (t !== err) return t;
  if (err instanceof FerryError) {
    if (err.side === undefined) err.side = site.side;
    return err;
  }
  if (isNetworkError(err) || (err as { code?: string } | null)?.code?.startsWith("ERR_SSL")) {
    return new FerryError("NETWORK", `${method} ${redactUrl(url)}: ${(err as Error).message}`, {
      retryable: isNetworkError(err),
      side: site.side,
      cause: err,
    });
  }
  return err;
}

/** Unexpected statuses and thrown failures become FerryErrors for `site`. */
export function errorLayer(site: ErrorSite): Layer {
  return (next) => async (req) => {
    try {
      const res = await next(req);
      if (req.expect.includes(res.status)) return res;
      throw await responseError({ statusCode: res.status, headers: res.headers, body: res.body } as Dispatcher.ResponseData, req.method, res.url, site.side);
    } catch (err) {
      throw mapError(err, site, req.method, req.url, req.signal);
    }
  };
}
