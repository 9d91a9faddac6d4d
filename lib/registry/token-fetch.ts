/** Token fetch: realm requests on the client's own dispatch, error mapping and retry policy; resolves with the realm's status and, for 200, its body text (capped). */
import { RegistryError } from "../errors.ts";
import type { TokenFetch } from "./auth.ts";
import { type ErrorSite, errorLayer } from "./error-layer.ts";
import { compose, type Send } from "./exchange.ts";
import type { RetryOptions } from "./retry.ts";
import { retryLayer } from "./retry-layer.ts";
import { readCapped } from "./transport.ts";

const MAX_TOKEN_RESPONSE = 64 * 1024;

/** A TokenFetch over `dispatch`, retried by `policy`; failures other than an HTTP status name `site`'s side. */
export function tokenFetch(dispatch: Send, policy: RetryOptions, site: ErrorSite): TokenFetch {
  const send = compose(retryLayer(policy), errorLayer(site))(dispatch);
  return async (url, init) => {
    try {
      // Always retried, POST too: asking for a token changes nothing at the realm.
      const res = await send({ method: init.method, url, headers: init.headers, body: init.body, expect: [200], retry: true });
      return { status: res.status, text: (await readCapped(res.body, MAX_TOKEN_RESPONSE)).toString("utf8") };
    } catch (e) {
      // The realm's answer, after the policy's retries: auth.ts decides what it means.
      if (e instanceof RegistryError) return { status: e.status, text: "" };
      throw e;
    }
  };
}
