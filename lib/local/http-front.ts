/** The local HTTP front on 127.0.0.1: turns requests into API Gateway HTTP API (v2) events. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type HttpHandler, type LocalHttpEvent, localContext } from "./lambda.ts";

/**
 * Bodies are kept up to about this size (whole chunks); the rest is read and dropped. What the
 * handler gets is then still over its own 1 MiB limit, so it answers 413 as API Gateway would.
 */
const MAX_READ = 2 * 1024 * 1024;

/** A response of one of the front's own routes. */
export interface LocalResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A route `ferry serve` answers itself, not the API handler (it has no counterpart on AWS): `/metrics`. */
export type LocalRoute = (method: string, headers: Record<string, string>) => Promise<LocalResponse>;

/** Serves `handler` on 127.0.0.1; a path in `routes` is answered by its route instead. */
export async function startHttpFront(handler: HttpHandler, port = 0, routes: Record<string, LocalRoute> = {}): Promise<{ server: Server; url: string }> {
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of req) {
      n += (c as Buffer).byteLength;
      if (n <= MAX_READ) chunks.push(c as Buffer);
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(",") : v;
    const route = Object.hasOwn(routes, url.pathname) ? routes[url.pathname] : undefined;
    if (route) {
      const out = await route(req.method ?? "GET", headers).catch((e: unknown) => ({
        status: 500,
        headers: { "content-type": "text/plain" },
        body: `${(e as Error).message}\n`,
      }));
      res.writeHead(out.status, out.headers);
      res.end(out.body);
      return;
    }
    const body = Buffer.concat(chunks);
    const event: LocalHttpEvent = {
      version: "2.0",
      routeKey: "$default",
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      headers,
      queryStringParameters: Object.fromEntries(url.searchParams),
      requestContext: {
        accountId: "000000000000",
        apiId: "local",
        domainName: "localhost",
        domainPrefix: "localhost",
        http: {
          method: req.method ?? "GET",
          path: url.pathname,
          protocol: "HTTP/1.1",
          sourceIp: req.socket.remoteAddress ?? "",
          userAgent: headers["user-agent"] ?? "",
        },
        requestId: Math.random().toString(36).slice(2),
        routeKey: "$default",
        stage: "$default",
        time: new Date().toISOString(),
        timeEpoch: Date.now(),
      },
      body: body.toString("base64"),
      isBase64Encoded: true,
    };
    try {
      const out = await handler(event, localContext("ferry-api", 30_000));
      res.writeHead(out.statusCode ?? 200, (out.headers ?? {}) as Record<string, string>);
      res.end(out.body ?? "");
    } catch (e) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: (e as Error).message }));
    }
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
