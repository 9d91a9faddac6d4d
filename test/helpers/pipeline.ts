/** Helpers for end-to-end pipeline tests: config files, HTTP calls, waiting for job states. */
import { writeFile } from "node:fs/promises";
import { type LocalServer, startLocal } from "../../lib/local/serve.ts";

/** `ferry serve`'s runtime in this process, with the very handlers it runs (functions/local.ts). */
export function startFerry(configPath: string, opts: { dataDir: string | false; port?: number }): Promise<LocalServer> {
  return startLocal({
    configPath,
    dataDir: opts.dataDir,
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    loadHandlers: async (s) => (await import("../../functions/local.ts")).createLocalHandlers(s),
  });
}

export async function writeConfig(path: string, yaml: string): Promise<string> {
  await writeFile(path, yaml);
  return path;
}

export async function api(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  token = "test-token",
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Polls a job until `done(job)` or the time runs out (then throws with the last state). */
export async function waitForJob(
  base: string,
  id: string,
  done: (job: Record<string, unknown>) => boolean = (j) => ["succeeded", "failed", "skipped"].includes(String(j.status)),
  timeoutMs = 30_000,
): Promise<Record<string, unknown>> {
  const until = Date.now() + timeoutMs;
  let last: Record<string, unknown> = {};
  while (Date.now() < until) {
    const r = await api(base, "GET", `/replications/${id}`);
    last = r.body;
    if (r.status === 200 && done(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} not done in time: ${JSON.stringify(last)}`);
}

/** Polls `check` until it returns a value. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 30_000, what = "condition"): Promise<T> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not reached within ${timeoutMs} ms`);
}

/** A distribution notifications envelope for one manifest push. */
export function distributionEnvelope(e: {
  id: string;
  timestamp: string;
  host: string;
  repository: string;
  tag: string;
  digest: string;
  mediaType: string;
  size?: number;
}): string {
  return JSON.stringify({
    events: [
      {
        id: e.id,
        timestamp: e.timestamp,
        action: "push",
        target: {
          mediaType: e.mediaType,
          size: e.size ?? 100,
          digest: e.digest,
          length: e.size ?? 100,
          repository: e.repository,
          url: `http://${e.host}/v2/${e.repository}/manifests/${e.digest}`,
          tag: e.tag,
        },
        request: { id: "r", addr: "127.0.0.1:1", host: e.host, method: "PUT", useragent: "test" },
        actor: {},
        source: { addr: "x", instanceID: "y" },
      },
    ],
  });
}
