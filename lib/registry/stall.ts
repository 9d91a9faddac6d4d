/** Stall layer (an undici interceptor under dispatch): a read with no headers or no body byte for `stallTimeout`, or under `speedLimit` over `speedTime`, fails with STALL. */
import type { Dispatcher } from "undici";
import { FerryError, type Side } from "../errors.ts";
import { redactUrl } from "./redact.ts";

/** Progress guard settings, in the units of the config file's `transfer:` section. */
export interface TransferSettings {
  /** Seconds without response headers, or without a body byte, before a read fails. */
  stallTimeout: number;
  /** Bytes per second a body must average over `speedTime` seconds; 0 turns the check off. */
  speedLimit: number;
  /** Seconds over which `speedLimit` is measured. */
  speedTime: number;
}

/** The defaults; the same as the config file's `transfer:` defaults (a unit test checks). */
export const DEFAULT_TRANSFER: TransferSettings = { stallTimeout: 30, speedLimit: 1024, speedTime: 30 };

/** How often the speed check looks at a body's byte count. */
const TICK_MS = 1000;

/** Fills in the defaults and validates; INVALID_CONFIG names the bad field. */
export function resolveTransfer(t: Partial<TransferSettings> | undefined): TransferSettings {
  const s = { ...DEFAULT_TRANSFER, ...stripUndefined(t ?? {}) };
  const bad = (field: string, want: string) => new FerryError("INVALID_CONFIG", `transfer.${field}: want ${want}`);
  if (!(Number.isFinite(s.stallTimeout) && s.stallTimeout > 0)) throw bad("stallTimeout", "seconds > 0");
  if (!(Number.isFinite(s.speedLimit) && s.speedLimit >= 0)) throw bad("speedLimit", "bytes per second ≥ 0");
  if (!(Number.isFinite(s.speedTime) && s.speedTime > 0)) throw bad("speedTime", "seconds > 0");
  return s;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** True for a STALL error. */
export function isStall(err: unknown): boolean {
  return err instanceof FerryError && err.code === "STALL";
}

/**
 * An undici interceptor that puts the guards on every request through it, as curl's
 * --speed-limit/--speed-time: a request fails with STALL when (a) no response headers come within
 * `stallTimeout`, (b) no body byte comes for `stallTimeout` while we are reading, or (c) the body
 * averages under `speedLimit` bytes/s over `speedTime` seconds while unfinished. (a) and (b) are
 * undici's own per-request timers (which already pause while our consumer applies backpressure);
 * (c) counts bytes as they arrive and checks once a second. Nothing is buffered here. A request's
 * own `headersTimeout` (an upload commit, where the registry hashes the blob first) takes precedence.
 */
export function stallGuard(settings: TransferSettings, side: Side | undefined): Dispatcher.DispatcherComposeInterceptor {
  const stallMs = Math.round(settings.stallTimeout * 1000);
  return (dispatch) => (opts, handler) => {
    const guarded: Dispatcher.DispatchOptions = {
      ...opts,
      headersTimeout: opts.headersTimeout ?? stallMs,
      bodyTimeout: opts.bodyTimeout ?? stallMs,
    };
    return dispatch(guarded, new StallGuardHandler(handler, settings, side, guarded));
  };
}

type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;
type Headers = Parameters<NonNullable<Handler["onResponseStart"]>>[2];

interface Sample {
  t: number;
  bytes: number;
}

class StallGuardHandler implements Handler {
  private readonly next: Handler;
  private readonly settings: TransferSettings;
  private readonly side: Side | undefined;
  private readonly opts: Dispatcher.DispatchOptions;
  private bytes = 0;
  /** Our consumer paused the body since the last tick: the time does not count against the server. */
  private pausedSinceTick = false;
  private samples: Sample[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(next: Handler, settings: TransferSettings, side: Side | undefined, opts: Dispatcher.DispatchOptions) {
    this.next = next;
    this.settings = settings;
    this.side = side;
    this.opts = opts;
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.next.onRequestStart?.(controller, context);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: Headers, statusMessage?: string): void {
    this.next.onResponseStart?.(controller, statusCode, headers, statusMessage);
    if (statusCode >= 200 && this.opts.method !== "HEAD" && this.settings.speedLimit > 0 && !this.timer && !controller.aborted) {
      this.samples = [{ t: performance.now(), bytes: 0 }];
      this.timer = setInterval(() => this.check(controller), TICK_MS);
      this.timer.unref();
    }
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.bytes += chunk.byteLength;
    this.next.onResponseData?.(controller, chunk);
    if (controller.paused) this.pausedSinceTick = true;
  }

  onResponseEnd(controller: Controller, trailers: Headers): void {
    this.stop();
    this.next.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Controller, err: Error): void {
    this.stop();
    this.next.onResponseError?.(controller, this.translate(err));
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Once a tick: the average over the last `speedTime` seconds in which we never held the body back. */
  private check(controller: Controller): void {
    const now = performance.now();
    if (this.pausedSinceTick || controller.paused) {
      this.pausedSinceTick = false;
      this.samples = [{ t: now, bytes: this.bytes }];
      return;
    }
    const windowMs = this.settings.speedTime * 1000;
    const samples = this.samples;
    samples.push({ t: now, bytes: this.bytes });
    while (samples.length > 2 && now - (samples[1] as Sample).t >= windowMs) samples.shift();
    const base = samples[0] as Sample;
    const span = now - base.t;
    // A timer tick may come a few milliseconds early: do not wait a whole extra tick for it.
    if (span < windowMs - 50) return;
    const rate = ((this.bytes - base.bytes) * 1000) / span;
    if (rate >= this.settings.speedLimit) return;
    this.stop();
    controller.abort(this.stall(`body averaged ${rate.toFixed(1)} B/s over ${(span / 1000).toFixed(1)} s, under the ${this.settings.speedLimit} B/s minimum`));
  }

  private translate(err: Error): Error {
    const code = (err as { code?: string }).code;
    if (code === "UND_ERR_HEADERS_TIMEOUT") return this.stall(`no answer within ${seconds(this.opts.headersTimeout)} s`, err);
    if (code === "UND_ERR_BODY_TIMEOUT") return this.stall(`no byte of the body for ${seconds(this.opts.bodyTimeout)} s`, err);
    return err;
  }

  private stall(what: string, cause?: unknown): FerryError {
    const url = redactUrl(new URL(this.opts.path, this.opts.origin ?? "http://unknown"));
    return new FerryError("STALL", `${this.opts.method} ${url}: stalled: ${what}`, {
      retryable: true,
      ...(this.side ? { side: this.side } : {}),
      ...(cause ? { cause } : {}),
    });
  }
}

function seconds(ms: number | null | undefined): string {
  return ms == null ? "?" : String(ms / 1000);
}
