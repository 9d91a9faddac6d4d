/**
 * One request budget per registry for every worker, kept in the store: two workers (two pools, as
 * two Lambda environments) together never take more than the budget; past it the work is
 * deferred (DEFERRED, with when to come back), never failed; a registry's 429 Retry-After holds
 * the budget for every worker; and far from the limit a worker asks the store once per lease.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DeferredError } from "../../../lib/errors.ts";
import { SharedBudget, slowDownUntil } from "../../../lib/registry/shared-budget.ts";
import { MemoryJobStore } from "../../../lib/state/memory.ts";

function worker(store: MemoryJobStore, perSecond: number, counter?: { n: number }) {
  return new SharedBudget(
    {
      take: (want, rate, burst) => {
        if (counter) counter.n++;
        return store.takeTokens("reg.example", want, rate, burst);
      },
      hold: (until) => store.holdBudget("reg.example", until),
    },
    { perSecond, name: "reg.example", maxWaitMs: 0 },
  );
}

describe("a shared request budget", () => {
  it("two workers together never get more than the bucket holds; past it a request is deferred with when to come back", async () => {
    let now = 1_000_000;
    const store = new MemoryJobStore({ now: () => now });
    // 40 a second: a burst of 4 (a tenth), refilled at 36/s; a lease is 4 tokens.
    const [a, b] = [worker(store, 40), worker(store, 40)];
    const taken = await Promise.allSettled([...Array.from({ length: 3 }, () => a.take()), ...Array.from({ length: 3 }, () => b.take())]);
    assert.equal(taken.filter((t) => t.status === "fulfilled").length, 3, "a's one lease of 4 serves its 3; b finds the bucket empty");
    const deferred = taken.filter((t) => t.status === "rejected") as PromiseRejectedResult[];
    assert.equal(deferred.length, 3);
    assert.ok(deferred.every((d) => d.reason instanceof DeferredError && d.reason.code === "DEFERRED" && d.reason.delaySeconds >= 1));
    now += 1000;
    await b.take(); // refilled
  });

  it("a registry's 429 with Retry-After holds the budget for every worker", async () => {
    const now = 2_000_000;
    const store = new MemoryJobStore({ now: () => now });
    const [a, b] = [worker(store, 20), worker(store, 20)];
    await a.take();
    await a.observe(429, { "retry-after": "30" });
    await assert.rejects(b.take(), (e: unknown) => e instanceof DeferredError && e.delaySeconds >= 29);
  });

  it("asks the store once per lease (a tenth of a second's tokens), not once per request", async () => {
    const store = new MemoryJobStore();
    const counter = { n: 0 };
    const w = worker(store, 200, counter);
    for (let i = 0; i < 18; i++) await w.take();
    assert.equal(counter.n, 1, "18 requests from one lease of 18");
  });

  it("reads the registry's signals: 429 Retry-After in seconds or as a date, RateLimit-Remaining 0", () => {
    const now = Date.parse("2026-11-30T12:00:00Z");
    assert.equal(slowDownUntil(429, { "retry-after": "12" }, now), now + 12_000);
    assert.equal(slowDownUntil(429, { "retry-after": "Mon, 30 Nov 2026 12:01:00 GMT" }, now), now + 60_000);
    assert.equal(slowDownUntil(200, { "ratelimit-remaining": "0;w=21600" }, now), now + 60_000);
    assert.equal(slowDownUntil(200, { "ratelimit-remaining": "76;w=21600" }, now), undefined);
    assert.equal(slowDownUntil(200, {}, now), undefined);
  });
});
