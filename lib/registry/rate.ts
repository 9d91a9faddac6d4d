/** Rate layer: one token of the host's budget per request sent (retries and auth replays included, redirect hops free), taken before credentials are looked up. */
import { untilAborted } from "./deadline.ts";
import type { Layer } from "./exchange.ts";

/** What the rate layer spends: resolves when a request may start; may hear what the registry answered. */
export interface RequestBudget {
  take(): Promise<void>;
  /** The registry's answer to a request (its status and headers): a budget may slow down on 429 or RateLimit-Remaining: 0. */
  observe?(status: number, headers: Record<string, string | string[] | undefined>): Promise<void>;
}

/** A token bucket shared by the clients of one host (Docker Hub's pull limits). */
export class RateBudget implements RequestBudget {
  private tokens: number;
  private last = Date.now();
  private chain: Promise<void> = Promise.resolve();

  /** `perSecond` requests a second on average, bursts up to `burst`. */
  constructor(
    private readonly perSecond: number,
    private readonly burst = Math.max(1, Math.ceil(perSecond)),
  ) {
    this.tokens = this.burst;
  }

  /** Resolves when a request may start. */
  take(): Promise<void> {
    const next = this.chain.then(async () => {
      for (;;) {
        const now = Date.now();
        this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
        this.last = now;
        if (this.tokens >= 1) {
          this.tokens -= 1;
          return;
        }
        await new Promise((r) => setTimeout(r, Math.ceil(((1 - this.tokens) / this.perSecond) * 1000)));
      }
    });
    this.chain = next.catch(() => undefined);
    return next;
  }
}

/** Takes one token of `budget` before each request goes on. */
export function rateLayer(budget: RequestBudget): Layer {
  return (next) => async (req) => {
    await untilAborted(budget.take(), req.signal);
    const reply = await next(req);
    if (budget.observe) await budget.observe(reply.status, reply.headers);
    return reply;
  };
}
