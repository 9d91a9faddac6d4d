/**
 * A TCP server on 127.0.0.1 that accepts connections and never answers: a registry that hangs,
 * so a job whose source it is stays stuck (planning) until an operator steps in. `stop()` drops
 * every connection it holds and closes it.
 */
import { createServer, type Socket } from "node:net";

export interface BlackHole {
  /** `127.0.0.1:port` */
  host: string;
  stop(): Promise<void>;
}

export async function startBlackHole(): Promise<BlackHole> {
  const sockets: Socket[] = [];
  const server = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    host: `127.0.0.1:${(server.address() as { port: number }).port}`,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
