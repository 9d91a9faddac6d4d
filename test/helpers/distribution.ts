/**
 * Starts real CNCF distribution registries (`docker-registry` from Debian) on free loopback ports,
 * each with its own generated config and storage in a temp dir: plain HTTP, htpasswd basic auth,
 * token auth (with the token-server fixture), TLS with a test CA, foreign-layer URLs allowed, and
 * `notifications:` to a webhook. `stop()` kills the process and removes the directory.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { createSigningCert, createTestCa } from "./certs.ts";
import { startTokenServer, type TokenServer, type TokenServerOptions } from "./token-server.ts";

export const REGISTRY_BIN = process.env.FERRY_REGISTRY_BIN ?? "docker-registry";

export interface DistributionOptions {
  auth?: "htpasswd" | "token";
  tls?: boolean;
  /** Accept descriptors with `urls` (foreign layers). */
  foreignUrls?: boolean;
  /** Users for htpasswd / token auth. Default `{ alice: "wonderland" }`. */
  users?: Record<string, string>;
  /** Token-server ACL (token auth only). */
  acl?: TokenServerOptions["acl"];
  /**
   * `ignorePulls`: send no pull events, nor blob events (`ignore: {mediatypes, actions}`; 2.8 applies
   * `actions` only when `mediatypes` is set too), as the README tells operators to configure it.
   */
  notifications?: { url: string; headers?: Record<string, string[]>; timeout?: string; backoff?: string; ignorePulls?: boolean };
  /** Require index children to exist (validation.manifests.indexes). */
  validateIndexes?: boolean;
  /** Accept Docker schema 1 pushes (`compatibility.schema1.enabled`; off by default in 2.8, which then answers 500 UNKNOWN). */
  schema1?: boolean;
}

export interface Distribution {
  /** `127.0.0.1:port` */
  host: string;
  /** `http://…` or `https://…` */
  url: string;
  dir: string;
  caFile?: string;
  tokenServer?: TokenServer;
  users: Record<string, string>;
  /** The registry process (for CPU accounting in the bench). */
  pid?: number;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export async function startDistribution(opts: DistributionOptions = {}): Promise<Distribution> {
  const dir = await mkdtemp(join(tmpdir(), "ferry-registry-"));
  const users = opts.users ?? { alice: "wonderland" };
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const lines = [
    "version: 0.1",
    "log: {level: error, accesslog: {disabled: true}}",
    `storage: {filesystem: {rootdirectory: ${JSON.stringify(join(dir, "data"))}}, delete: {enabled: true}}`,
  ];
  let caFile: string | undefined;
  let tokenServer: TokenServer | undefined;
  if (opts.tls) {
    const ca = await createTestCa(dir);
    caFile = ca.caCert;
    lines.push(`http: {addr: ${host}, tls: {certificate: ${JSON.stringify(ca.serverCert)}, key: ${JSON.stringify(ca.serverKey)}}}`);
  } else {
    lines.push(`http: {addr: ${host}}`);
  }
  if (opts.auth === "htpasswd") {
    const file = join(dir, "htpasswd");
    await writeFile(
      file,
      Object.entries(users)
        .map(([u, p]) => `${u}:${bcrypt.hashSync(p, 4)}`)
        .join("\n") + "\n",
    );
    lines.push(`auth: {htpasswd: {realm: test, path: ${JSON.stringify(file)}}}`);
  } else if (opts.auth === "token") {
    const signing = await createSigningCert(dir);
    tokenServer = await startTokenServer({
      keyFile: signing.key,
      certFile: signing.cert,
      service: "test-registry",
      issuer: "test-issuer",
      users,
      ...(opts.acl ? { acl: opts.acl } : {}),
    });
    lines.push(
      `auth: {token: {realm: ${JSON.stringify(tokenServer.url)}, service: test-registry, issuer: test-issuer, rootcertbundle: ${JSON.stringify(signing.cert)}}}`,
    );
  }
  const validation: string[] = [];
  if (opts.foreignUrls) validation.push("urls: {allow: ['^https?://']}");
  if (opts.validateIndexes) validation.push("indexes: {platforms: all}");
  if (validation.length) lines.push(`validation: {manifests: {${validation.join(", ")}}}`);
  if (opts.schema1) lines.push("compatibility: {schema1: {enabled: true}}");
  if (opts.notifications) {
    const n = opts.notifications;
    lines.push(
      "notifications:",
      "  endpoints:",
      "    - name: ferry",
      `      url: ${JSON.stringify(n.url)}`,
      `      headers: ${JSON.stringify(n.headers ?? {})}`,
      `      timeout: ${n.timeout ?? "2s"}`,
      "      threshold: 10",
      `      backoff: ${n.backoff ?? "1s"}`,
      ...(n.ignorePulls ? ["      ignore: {mediatypes: [application/octet-stream], actions: [pull]}"] : []),
    );
  }
  const config = join(dir, "config.yml");
  await writeFile(config, lines.join("\n") + "\n");
  // The registry logs every 404 at error level (~800 bytes each). A pipe to this process would
  // fill and block the registry whenever this process's event loop is busy: log to a file.
  const logFile = join(dir, "registry.log");
  const log = await open(logFile, "w");
  const child = spawn(REGISTRY_BIN, ["serve", config], { stdio: ["ignore", "ignore", log.fd] });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once("error", (e) =>
      reject(new Error(`cannot start ${REGISTRY_BIN} (${(e as NodeJS.ErrnoException).code}); install it with: apt-get install -y docker-registry`)),
    );
    child.once("spawn", () => resolve());
  });
  await log.close(); // the child has its own copy of the descriptor
  const stderr = () => readFileSync(logFile, "utf8").slice(-4000);
  await spawned;
  const url = `${opts.tls ? "https" : "http"}://${host}`;
  const stop = async () => {
    await killChild(child);
    await tokenServer?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(host, opts.tls === true, child, stderr);
  } catch (e) {
    await stop();
    throw e;
  }
  return { host, url, dir, users, stop, ...(child.pid ? { pid: child.pid } : {}), ...(caFile ? { caFile } : {}), ...(tokenServer ? { tokenServer } : {}) };
}

async function waitReady(host: string, tls: boolean, child: ChildProcess, stderr: () => string): Promise<void> {
  const { connect } = await import("node:net");
  const [h, p] = host.split(":") as [string, string];
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(Number(p), h, () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry on ${host} (tls=${tls}) not ready after 15 s: ${stderr()}`);
}

async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(t);
}
