/**
 * A loopback reverse proxy in front of a plain-HTTP registry that stalls the requests it is told
 * to: `no-response` never answers, `silence` sends the registry's status and headers and then
 * nothing, `trickle` sends them and then one byte of the body every `trickleEveryMs`. Other
 * requests pass through untouched. `stop()` closes every connection it holds open.
 */
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export type StallKind = "no-response" | "silence" | "trickle";

export interface StallProxyOptions {
  kind: StallKind;
  /** Which requests stall (default: blob GETs). */
  match?: (method: string, path: string) => boolean;
  /** `trickle`: milliseconds between bytes (default 2000). */
  trickleEveryMs?: number;
}

export interface StallProxy {
  /** `127.0.0.1:port` of the proxy. */
  host: string;
  /** Requests stalled so far. */
  stalled(): number;
  stop(): Promise<void>;
}

export const isBlobGet = (method: string, path: string): boolean => method === "GET" && /\/blobs\/sha256:/.test(path);

export async function startStallProxy(target: string, opts: StallProxyOptions): Promise<StallProxy> {
  const [thost, tport] = target.split(":") as [string, string];
  const match = opts.match ?? isBlobGet;
  let stalled = 0;
  const server: Server = createServer((req, res) => {
    const stall = match(req.method ?? "", req.url ?? "");
    if (stall) stalled++;
    if (stall && opts.kind === "no-response") {
      req.resume(); // read the request, never answer
      return;
    }
    const up = request({ host: thost, port: Number(tport), method: req.method, path: req.url, headers: { ...req.headers, host: target } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      if (!stall) {
        r.pipe(res);
        return;
      }
      res.flushHeaders();
      if (opts.kind === "silence") {
        r.resume(); // the registry's body goes nowhere
        return;
      }
      // trickle: hold the registry's body (test blobs are small) and let it out a byte at a time
      const chunks: Buffer[] = [];
      r.on("data", (c: Buffer) => chunks.push(c));
      let sent = 0;
      const t = setInterval(() => {
        const body = Buffer.concat(chunks);
        if (sent < body.byteLength) res.write(body.subarray(sent, ++sent));
      }, opts.trickleEveryMs ?? 2000);
      res.on("close", () => clearInterval(t));
    });
    up.on("error", () => res.destroy());
    res.on("close", () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    stalled: () => stalled,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
