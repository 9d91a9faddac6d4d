/**
 * Retry policy: which failures are worth another try, how long to wait, and when to give up.
 * Only replayable requests are retried here; an upload is retried as a whole by its caller.
 */
import { FerryError, RegistryError } from "../errors.ts";
import { isStall } from "./stall.ts";

/** Retry settings; defaults in {@link DEFAULT_RETRY}. */
export interface RetryOptions {
  /** Attempts in all, including the first. */
  maxAttempts: number;
  /** First backoff; each next one is 3× longer, ±10 % jitter. */
  baseDelayMs: number;
  /** Longest single wait, including a server's Retry-After. */
  maxDelayMs: number;
  /**
   * Attempts in all when the failure is a STALL. Each stall costs a whole stall timeout (30 s by
   * default), so stalls get fewer tries than a quick 503: a stalling registry fails in minutes.
   */
  maxStallAttempts?: number;
}

export const DEFAULT_RETRY: RetryOptions = { maxAttempts: 5, baseDelayMs: 200, maxDelayMs: 60_000, maxStallAttempts: 2 };
const DEFAULT_STALL_ATTEMPTS = 2;

const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
]);

/** True for transport failures that another attempt may cure (resets, timeouts, refused). */
export function isNetworkError(err: unknown): boolean {
  if (err instanceof FerryError) return err.code === "NETWORK";
  const code = (err as { code?: string } | null)?.code;
  if (code && NETWORK_CODES.has(code)) return true;
  const cause = (err as { cause?: unknown } | null)?.cause;
  return cause !== undefined && cause !== err && isNetworkError(cause);
}

/** True when `err` says to try again (network blip, 408/429/5xx, temporary OCI codes). */
export function isRetryable(err: unknown): boolean {
  // Deferred work is not retried here: its message comes back later (the whole delivery waits, not this request).
  if (err instanceof FerryError) return err.retryable && err.code !== "DEFERRED";
  return isNetworkError(err);
}

/** Parses Retry-After: delta-seconds or an HTTP-date. Undefined when absent or unparseable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const date = Date.parse(t);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Backoff before attempt `attempt + 1` (attempt counts from 1). */
export function backoffMs(attempt: number, opts: RetryOptions, random = Math.random): number {
  const base = opts.baseDelayMs * 3 ** (attempt - 1);
  const jitter = 1 + (random() * 0.2 - 0.1);
  return Math.min(opts.maxDelayMs, Math.round(base * jitter));
}

/** Sleeps `ms`, rejecting early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(abortError(signal as AbortSignal));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The error to raise when `signal` aborted: a DEADLINE error for timeouts, ABORTED otherwise. */
export function abortError(signal: AbortSignal): FerryError {
  const reason = signal.reason as { name?: string } | undefined;
  if (reason instanceof FerryError) return reason;
  const timedOut = reason?.name === "TimeoutError";
  return new FerryError(timedOut ? "DEADLINE" : "ABORTED", timedOut ? "deadline reached" : "operation aborted", {
    retryable: timedOut,
    cause: reason,
  });
}

/**
 * How long to wait before the next attempt, or undefined to stop. Waits that would end past the
 * deadline stop the loop: the caller's own queue (SQS visibility) is the place for long waits.
 */
export function nextDelay(err: unknown, attempt: number, opts: RetryOptions, deadline: number | undefined): number | undefined {
  const limit = isStall(err) ? Math.min(opts.maxAttempts, opts.maxStallAttempts ?? DEFAULT_STALL_ATTEMPTS) : opts.maxAttempts;
  if (attempt >= limit || !isRetryable(err)) return undefined;
  const serverWait = err instanceof RegistryError ? err.retryAfterMs : undefined;
  const wait = serverWait !== undefined ? Math.min(serverWait, opts.maxDelayMs) : backoffMs(attempt, opts);
  if (deadline !== undefined && Date.now() + wait > deadline) return undefined;
  return wait;
}

/** How {@link withRetries} may wait and which failures it may retry. */
export interface RetryControl {
  signal?: AbortSignal | undefined;
  deadline?: number | undefined;
  /** Narrows the policy: failures this says no to are raised at once. Default: all the policy allows. */
  retryable?: (err: unknown) => boolean;
}

/**
 * Runs `attempt` until it succeeds or the policy ({@link nextDelay}) says stop, sleeping between
 * tries. The one retry loop: the transport's retry layer, token fetches and whole uploads use it.
 */
export async function withRetries<T>(attempt: (n: number) => Promise<T>, opts: RetryOptions, ctl: RetryControl = {}): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      const delay = (ctl.retryable?.(err) ?? true) ? nextDelay(err, n, opts, ctl.deadline) : undefined;
      if (delay === undefined) throw err;
      await sleep(delay, ctl.signal);
    }
  }
}
