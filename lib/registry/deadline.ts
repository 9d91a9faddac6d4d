/** Deadline layer (outermost): a request, its retries and its Reply's body until read all run under one signal that aborts with DEADLINE at the deadline. */
import { FerryError } from "../errors.ts";
import type { RegistryRequest, Send } from "./exchange.ts";
import { abortError } from "./retry.ts";

/**
 * The signal for one call and a `dispose()` to run when the call is over (body consumed). Requests
 * in flight at the deadline (a blob body mid-stream, an upload) stop with a retryable DEADLINE
 * error, so the caller still has the time it kept in reserve to record the outcome (and the
 * pipeline's queue delivers the work again).
 */
export interface CallScope {
  signal: AbortSignal | undefined;
  dispose(): void;
}

/** Longest delay setTimeout takes; a later deadline is as good as none for one call. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const noop = () => undefined;

/**
 * Combines the caller's `signal` with `deadline` (epoch ms). Without a deadline this is the
 * caller's signal as is. One timer and one listener per call, both removed by `dispose()`.
 */
export function callScope(signal: AbortSignal | undefined, deadline: number | undefined, what: string): CallScope {
  if (deadline === undefined) return { signal, dispose: noop };
  const ctl = new AbortController();
  const expire = () => ctl.abort(new FerryError("DEADLINE", `${what}: deadline reached`, { retryable: true }));
  const follow = () => ctl.abort(signal?.reason);
  if (signal?.aborted) follow();
  else signal?.addEventListener("abort", follow, { once: true });
  const ms = deadline - Date.now();
  let timer: NodeJS.Timeout | undefined;
  if (ms <= 0) expire();
  else if (ms <= MAX_TIMER_MS) {
    timer = setTimeout(expire, ms);
    timer.unref();
  }
  return {
    signal: ctl.signal,
    dispose() {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener("abort", follow);
    },
  };
}

/**
 * Waits for `p` (a shared wait: a token fetch, the rate budget) until `signal` aborts; then
 * rejects with the abort's error and leaves `p` to settle for whoever else waits on it.
 */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * The outermost layer: `r.signal` combined with `r.deadline` for everything below, released when
 * the Reply's body closes (or at once on failure). `host` names the request in the DEADLINE error.
 */
export function deadlineLayer(host: string): (next: Send<RegistryRequest>) => Send<RegistryRequest> {
  return (next) => async (r) => {
    const scope = callScope(r.signal, r.deadline, `${r.method} ${host}${r.repo ? `/${r.repo}` : ""}`);
    try {
      const res = await next(scope.signal === r.signal ? r : { ...r, signal: scope.signal });
      if (res.body.closed) scope.dispose();
      else res.body.once("close", scope.dispose);
      return res;
    } catch (e) {
      scope.dispose();
      throw e;
    }
  };
}
