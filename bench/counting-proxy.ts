/** A reverse proxy on loopback that counts requests by method, to compare clients' request counts. */
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface CountingProxy {
  host: string;
  counts: Record<string, number>;
  reset(): void;
  stop(): Promise<void>;
}

/** Forwards everything to `target` (`127.0.0.1:port`, plain HTTP) and counts methods. */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const [thost, tport] = target.split(":") as [string, string];
  const counts: Record<string, number> = {};
  const server: Server = createServer((req, res) => {
    counts[req.method ?? "?"] = (counts[req.method ?? "?"] ?? 0) + 1;
    const up = request({ host: thost, port: Number(tport), method: req.method, path: req.url, headers: { ...req.headers, host: target } }, (r) => {
      // Locations point at the target: rewrite them to the proxy so follow-ups are counted too.
      const headers = { ...r.headers };
      if (typeof headers.location === "string") headers.location = headers.location.replace(`//${target}`, `//${proxyHost}`);
      res.writeHead(r.statusCode ?? 502, headers);
      r.pipe(res);
    });
    up.on("error", () => {
      res.statusCode = 502;
      res.end();
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const proxyHost = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host: proxyHost,
    counts,
    reset() {
      for (const k of Object.keys(counts)) delete counts[k];
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
