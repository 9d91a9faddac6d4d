/**
 * ferry's error hierarchy: every error has a stable `code`, a `retryable` verdict and, where a
 * registry is involved, the `side` (source or destination) that failed. Tests assert on codes.
 */

/** Which end of a copy an error came from. */
export type Side = "source" | "destination";

/** Stable error codes. Never rename one; add new ones. */
export type ErrorCode =
  | "INVALID_REFERENCE"
  | "INVALID_DIGEST"
  | "UNSUPPORTED_DIGEST"
  | "DIGEST_MISMATCH"
  | "SIZE_MISMATCH"
  | "MANIFEST_TOO_LARGE"
  | "MANIFEST_INVALID"
  | "MEDIA_TYPE_MISMATCH"
  | "REGISTRY"
  | "NETWORK"
  | "TLS"
  | "AUTH"
  | "CREDENTIALS"
  | "REDIRECT_REFUSED"
  | "DEADLINE"
  | "ABORTED"
  | "NOT_FOUND"
  | "PLATFORM_MISMATCH"
  | "UNSUPPORTED"
  | "INVALID_CONFIG"
  | "USAGE"
  /** A registry read made no progress: no byte for the stall timeout, or under the minimum speed. */
  | "STALL"
  /** A queue message that does not parse; it goes to the dead-letter queue. */
  | "POISON_MESSAGE"
  /** A destination tag stayed leased by other jobs for longer than the pipeline waits. */
  | "TAG_BUSY"
  /** A job stopped moving and the reconciler's re-drives did not move it either. */
  | "STUCK"
  /** An operator failed the job (`POST /replications/{id}/fail`). */
  | "CANCELLED"
  /** The request conflicts with the job's state (re-driving a job that succeeded). */
  | "CONFLICT"
  /** A rule's signature gate found no cosign signature on the image: no tag moved. */
  | "UNSIGNED"
  /** A rule's signature gate found signatures, none valid for its keys and the image's digest: no tag moved. */
  | "SIGNATURE_INVALID"
  /** ferry serve's data directory cannot be read back (a journal line damaged by something other than a crash). */
  | "STATE_DAMAGED"
  /** Work that cannot run now (a rate budget spent): its message comes back later; never a failure. */
  | "DEFERRED"
  /** The request is not one the configuration allows (a one-off replication outside the rules and api.allow). */
  | "FORBIDDEN"
  /** Anything ferry did not raise on purpose (an SDK or runtime error). */
  | "INTERNAL"
  /** A path inside an OCI layout is a symbolic link (or not the file or directory it must be): nothing is read or written through it. */
  | "UNSAFE_PATH"
  /** A large blob's copy stopped before the deadline with its place recorded: the next delivery resumes it from there. */
  | "RESUMABLE";

const FERRY_ERROR = Symbol.for("ferry.error");

/** Base class of every error ferry raises on purpose. */
export class FerryError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  side: Side | undefined;
  /** For bad input: the path of the field at fault (`destinations[1]`), as data, never cut from the message. */
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, opts: { retryable?: boolean; side?: Side; cause?: unknown; field?: string } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "FerryError";
    this.code = code;
    this.retryable = opts.retryable ?? false;
    this.side = opts.side;
    this.field = opts.field;
    Object.defineProperty(this, FERRY_ERROR, { value: true });
  }

  // Works across two copies of this module in one bundle (as undici does for its errors).
  static override [Symbol.hasInstance](obj: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass being tested against
    if (this !== FerryError) return Function.prototype[Symbol.hasInstance].call(this, obj);
    return typeof obj === "object" && obj !== null && (obj as Record<symbol, unknown>)[FERRY_ERROR] === true;
  }
}

/** One entry of an OCI error body: `{"errors":[{"code","message","detail"}]}`. */
export interface OciErrorEntry {
  code: string;
  message?: string;
  detail?: unknown;
}

/** Codes the registry may send that mean "try again later" (all of a body's codes must be in here). */
const TEMPORARY_OCI_CODES = new Set(["TOOMANYREQUESTS", "UNAVAILABLE", "UNKNOWN", "BLOB_UPLOAD_INVALID"]);
const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/** An HTTP answer from a registry that was not what the operation needed. */
export class RegistryError extends FerryError {
  readonly status: number;
  readonly ociCodes: readonly OciErrorEntry[];
  readonly method: string;
  /** Redacted URL (no signatures, tokens or credentials). */
  readonly url: string;
  readonly retryAfterMs: number | undefined;
  /** Docker Hub-style rate-limit headers, when the registry sent them. */
  readonly rateLimit: { limit: number; remaining: number } | undefined;

  constructor(opts: {
    status: number;
    method: string;
    url: string;
    ociCodes?: OciErrorEntry[];
    bodyText?: string;
    side?: Side;
    retryAfterMs?: number;
    rateLimit?: { limit: number; remaining: number };
    message?: string;
  }) {
    const codes = opts.ociCodes ?? [];
    const first = codes[0];
    const what = first
      ? `${first.code}${first.message ? `: ${first.message}` : ""}`
      : opts.bodyText
        ? truncate(opts.bodyText.trim().replace(/\s+/g, " "), 200)
        : "no error body";
    const retryable = RETRYABLE_STATUS.has(opts.status) || (codes.length > 0 && codes.every((c) => TEMPORARY_OCI_CODES.has(c.code)) && opts.status !== 404);
    super("REGISTRY", opts.message ?? `${opts.method} ${opts.url}: HTTP ${opts.status} (${what})`, {
      retryable,
      side: opts.side,
    });
    this.name = "RegistryError";
    this.status = opts.status;
    this.ociCodes = codes;
    this.method = opts.method;
    this.url = opts.url;
    this.retryAfterMs = opts.retryAfterMs;
    this.rateLimit = opts.rateLimit;
  }

  /** True when the registry answered with this OCI error code. */
  hasCode(code: string): boolean {
    return this.ociCodes.some((c) => c.code === code);
  }
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** Shorthand constructors used across lib/. */
export function invalidReference(input: string, why: string): FerryError {
  return new FerryError("INVALID_REFERENCE", `invalid reference ${JSON.stringify(input)}: ${why}`);
}

/** Returns the error as a FerryError with a side, leaving other errors untouched. */
export function withSide<E>(err: E, side: Side | undefined): E {
  if (side && err instanceof FerryError && err.side === undefined) err.side = side;
  return err;
}

/** Awaits `p`, attributing a failure to `side` (source or destination). */
export async function onSide<T>(p: Promise<T> | T, side: Side): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw withSide(e, side);
  }
}

/** `REGISTRY HTTP 404 MANIFEST_UNKNOWN`: the code, the HTTP status and the registry's codes. */
export function errorCodes(e: FerryError): string {
  const status = (e as { status?: number }).status;
  const oci = (e as { ociCodes?: Array<{ code: string }> }).ociCodes?.map((x) => x.code).join(",");
  return [e.code, status ? `HTTP ${status}` : undefined, oci || undefined].filter(Boolean).join(" ");
}

/** One line for a job record or log: side, codes, message (errors never carry credentials). */
export function describeError(e: unknown): string {
  if (e instanceof FerryError) return `${e.side ? `${e.side}: ` : ""}[${errorCodes(e)}] ${e.message}`;
  return String((e as Error)?.message ?? e);
}

/**
 * A failure as jobs and tasks record it: the stable code, the side, a message for people, and
 * whether trying again could help (a DLQ redrive re-opens only such jobs). Tests assert `code`.
 */
export interface ErrorRecord {
  code: ErrorCode;
  side?: Side;
  message: string;
  retryable: boolean;
  /** The registry's HTTP status and OCI error codes, when a registry answered. */
  status?: number;
  registryCodes?: string[];
}

/** The record of `e`: a FerryError keeps its code and side; anything else is INTERNAL (retryable). */
export function errorRecord(e: unknown): ErrorRecord {
  if (e instanceof FerryError) {
    const status = (e as { status?: number }).status;
    const oci = (e as { ociCodes?: Array<{ code: string }> }).ociCodes?.map((x) => x.code) ?? [];
    return {
      code: e.code,
      ...(e.side ? { side: e.side } : {}),
      message: e.message,
      retryable: e.retryable,
      ...(status ? { status } : {}),
      ...(oci.length ? { registryCodes: oci } : {}),
    };
  }
  return { code: "INTERNAL", message: String((e as Error)?.message ?? e), retryable: true };
}

/** A record made on purpose (a poison message, an operator's reason, a stuck job). */
export function errorOf(code: ErrorCode, message: string, opts: { side?: Side; retryable?: boolean } = {}): ErrorRecord {
  return { code, ...(opts.side ? { side: opts.side } : {}), message, retryable: opts.retryable ?? false };
}

/** Work that cannot run now and must come back after `delaySeconds` (a shared rate budget spent): deferred, never failed. */
export class DeferredError extends FerryError {
  readonly delaySeconds: number;

  constructor(message: string, delaySeconds: number, opts: { side?: Side } = {}) {
    super("DEFERRED", message, { retryable: true, ...opts });
    this.name = "DeferredError";
    this.delaySeconds = delaySeconds;
  }
}
