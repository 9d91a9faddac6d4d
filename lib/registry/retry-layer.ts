/**
 * Retries a failed request by the client's one retry policy (retry.ts): only replayable requests
 * (no streamed body) and, unless the request says otherwise, never a POST or PATCH. Contract:
 * `next` is called again with the same Exchange after a retryable failure, within the deadline.
 */
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
