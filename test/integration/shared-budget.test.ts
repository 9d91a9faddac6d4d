/**
 * One request budget for every worker: 8 workers (8 registry pools, as 8 Lambda environments)
 * share a budget of N requests a second through one store, against a proxy in front of a real
 * registry that answers 429 to any request past N in the last second. The proxy sees none over
 * the limit, nothing fails (deferred work comes back), and the whole takes about work / N.
 */
import assert from "node:assert/strict";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, it } from "node:test";
import { parseConfig } from "../../lib/config.ts";
import { DeferredError } from "../../lib/errors.ts";
import { poolFromConfig } from "../../lib/pipeline/registries.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { MemoryJobStore } from "../../lib/state/memory.ts";
import { type Distribution, startDistribution } from "../helpers/distribution.ts";
import { pushImage, randomImage } from "../helpers/images.ts";

const N = 20;
let reg: Distribution;
let proxy: { host: string; over: number; served: number; server: Server };

/** Forwards to `target`, answering 429 to a request when more than `limit` arrived in the last second. */
async function startLimitingProxy(target: string, limit: number) {
  const [host, port] = target.split(":") as [string, string];
  const arrivals: number[] = [];
  const state = { host: "", over: 0, served: 0, server: undefined as unknown as Server };
  state.server = createServer((req, res) => {
    const now = performance.now();
    while (arrivals.length && (arrivals[0] as number) <= now - 1000) arrivals.shift();
    arrivals.push(now);
    if (arrivals.length > limit) {
      state.over++;
      res.writeHead(429, { "retry-after": "1", "content-type": "application/json" }).end('{"errors":[{"code":"TOOMANYREQUESTS"}]}');
      return;
    }
    state.served++;
    const up = request({ host, port: Number(port), method: req.method, path: req.url, headers: { ...req.headers, host: target } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => state.server.listen(0, "127.0.0.1", r));
  state.host = `127.0.0.1:${(state.server.address() as AddressInfo).port}`;
  return state;
}

before(async () => {
  reg = await startDistribution();
  const c = new RegistryClient({ host: reg.host });
  await pushImage(c, "app", "v1", randomImage({ layers: 1, layerSize: 64, seed: "budget" }));
  await c.close();
  proxy = await startLimitingProxy(reg.host, N);
});
after(async () => {
  await new Promise<void>((r) => proxy?.server.close(() => r()));
  await reg?.stop();
});

it(`8 workers sharing a budget of ${N}/s: no request over the limit, nothing fails, about work / N`, { timeout: 120_000 }, async (t) => {
  const config = parseConfig({ version: 1, registries: [{ host: proxy.host, plainHttp: true, requestsPerSecond: N }] });
  const store = new MemoryJobStore();
  const perWorker = 15;
  let deferrals = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      const pool = poolFromConfig(config, {}, undefined, undefined, store);
      const client = pool.client(proxy.host, "source");
      for (let i = 0; i < perWorker; ) {
        try {
          assert.ok(await client.manifestHead("app", "v1"));
          i++;
        } catch (e) {
          if (!(e instanceof DeferredError)) throw e;
          deferrals++; // the message would come back later: here, the worker waits and tries again
          await new Promise((r) => setTimeout(r, e.delaySeconds * 1000));
        }
      }
      await pool.close();
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const work = 8 * perWorker;
  t.diagnostic(`${work} requests in ${seconds.toFixed(1)} s (work / N = ${(work / N).toFixed(1)} s), ${proxy.over} over the limit, ${deferrals} deferrals`);
  assert.equal(proxy.over, 0, "no request past the limit reached the registry's proxy");
  assert.ok(proxy.served >= work);
  assert.ok(seconds < (work / N) * 2 + 2, `took ${seconds} s`);
});
