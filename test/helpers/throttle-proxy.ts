/** A loopback reverse proxy that slows blob downloads and reports bytes served, to interrupt copies mid-blob. */
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ThrottleProxy {
  host: string;
  /** Blob bytes sent to clients so far. */
  blobBytes(): number;
  stop(): Promise<void>;
}

/** Forwards to `target`; blob GET bodies are sent at about `bytesPerSecond`. */
export async function startThrottleProxy(target: string, bytesPerSecond: number): Promise<ThrottleProxy> {
  const [thost, tport] = target.split(":") as [string, string];
  let sent = 0;
  const server: Server = createServer((req, res) => {
    const up = request({ host: thost, port: Number(tport), method: req.method, path: req.url, headers: { ...req.headers, host: target } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      const slow = req.method === "GET" && /\/blobs\/sha256:/.test(req.url ?? "");
      if (!slow) {
        r.pipe(res);
        return;
      }
      r.on("data", (chunk: Buffer) => {
        r.pause();
        sent += chunk.byteLength;
        res.write(chunk);
        setTimeout(() => r.resume(), (chunk.byteLength / bytesPerSecond) * 1000);
      });
      r.on("end", () => res.end());
    });
    up.on("error", () => res.destroy());
    res.on("close", () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    blobBytes: () => sent,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
