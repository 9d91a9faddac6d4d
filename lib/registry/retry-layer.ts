/** Retry layer: after a failure the one retry policy (retry.ts) calls retryable, calls `next` again with the same Exchange, within the deadline; streamed bodies, POST and PATCH only when the request says so. */
import type { Layer } from "./exchange.ts";
import { type RetryOptions, withRetries } from "./retry.ts";

/** Retries what `policy` calls retryable and the request allows. */
export function retryLayer(policy: RetryOptions): Layer {
  return (next) => (req) => {
    const allowed = req.retry ?? (req.stream === undefined && req.method !== "POST" && req.method !== "PATCH");
    if (!allowed) return next(req);
    return withRetries(() => next(req), policy, { signal: req.signal, deadline: req.deadline });
  };
}
