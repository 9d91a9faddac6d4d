/**
 * A loopback reverse proxy that holds chosen requests for a while before forwarding them, so a
 * request reaches the registry late: a manifest PUT that lands after its sender's lease ran out.
 * With `ms` = `Infinity` a held request waits for `release()`: work kept under way for as long as
 * a test looks at it, with no timing guessed.
 */
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface HoldProxy {
  host: string;
  /** Requests held so far. */
  held(): number;
  /** Forwards every request held now, and holds none from here on. */
  release(): void;
  stop(): Promise<void>;
}

/** Forwards to `target`; a request for which `hold(method, path)` is true waits `ms` first. */
export async function startHoldProxy(target: string, ms: number, hold: (method: string, path: string) => boolean): Promise<HoldProxy> {
  const [thost, tport] = target.split(":") as [string, string];
  let held = 0;
  let released = false;
  const waiting = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    const forward = () => {
      const up = request({ host: thost, port: Number(tport), method: req.method, path: req.url, headers: { ...req.headers, host: target } }, (r) => {
        const headers = { ...r.headers };
        if (typeof headers.location === "string") headers.location = headers.location.replace(`//${target}/`, `//${proxyHost}/`);
        res.writeHead(r.statusCode ?? 502, headers);
        r.pipe(res);
      });
      up.on("error", () => res.destroy());
      res.on("close", () => up.destroy());
      req.pipe(up);
    };
    if (!released && hold(req.method ?? "GET", req.url ?? "/")) {
      held++;
      req.pause();
      if (ms === Number.POSITIVE_INFINITY) waiting.add(forward);
      else setTimeout(forward, ms);
    } else forward();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const proxyHost = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host: proxyHost,
    held: () => held,
    release() {
      released = true;
      for (const f of waiting) f();
      waiting.clear();
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
