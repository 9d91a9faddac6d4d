/**
 * Registry credentials: explicit values, docker `config.json` (`auths` with `auth` base64 or
 * username/password, `identitytoken`), `REGISTRY_AUTH_FILE`, and credential helpers
 * (`credHelpers`/`credsStore` → `docker-credential-<name> get`). Secrets are never logged.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { FerryError } from "../errors.ts";
import { credentialHelperServer, dockerConfigKeys } from "./host-profile.ts";

/** Username and password (or token) for Basic auth and token requests. */
export interface BasicCredential {
  kind: "basic";
  username: string;
  password: string;
}

/** An OAuth2 refresh token (docker's `identitytoken`), exchanged at the token realm. */
export interface IdentityTokenCredential {
  kind: "identity-token";
  identityToken: string;
  username?: string;
}

export type Credential = BasicCredential | IdentityTokenCredential;

/** Returns the credential for a registry host (`host[:port]`), or undefined for anonymous. */
/**
 * Credentials for a host. `refresh`: the registry refused what the last call gave (a rotated
 * secret): a provider that caches reads its source again.
 */
export type CredentialProvider = (host: string, opts?: { refresh?: boolean }) => Promise<Credential | undefined>;

/** A provider that always answers with the same credential. */
export function staticCredentials(username: string, password: string): CredentialProvider {
  const c: BasicCredential = { kind: "basic", username, password };
  return async () => c;
}

/** Parses `USER:PASS` (the password may contain colons). */
export function parseUserPass(s: string): BasicCredential {
  const i = s.indexOf(":");
  if (i <= 0) throw new FerryError("USAGE", "credentials must be USER:PASS");
  return { kind: "basic", username: s.slice(0, i), password: s.slice(i + 1) };
}

/** The subset of docker's config.json (and containers' auth.json) we read. */
interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** Where docker and podman keep credentials, in the order we look. */
export function defaultAuthFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  const files: string[] = [];
  if (env.REGISTRY_AUTH_FILE) files.push(env.REGISTRY_AUTH_FILE);
  const dockerDir = env.DOCKER_CONFIG ?? join(homedir(), ".docker");
  files.push(join(dockerDir, "config.json"));
  if (env.XDG_RUNTIME_DIR) files.push(join(env.XDG_RUNTIME_DIR, "containers", "auth.json"));
  return files;
}

function normaliseKey(k: string): string {
  return k
    .replace(/^https?:\/\//, "")
    .replace(/\/(v1|v2)\/?$/, "")
    .replace(/\/$/, "");
}

/**
 * Reads credentials from docker/podman auth files. `files` defaults to {@link defaultAuthFiles};
 * a missing file is skipped, an unreadable or malformed one is a CREDENTIALS error.
 */
export function dockerConfigCredentials(opts: { files?: string[]; env?: NodeJS.ProcessEnv; helperTimeoutMs?: number } = {}): CredentialProvider {
  const files = opts.files ?? defaultAuthFiles(opts.env);
  let loaded: Promise<DockerConfigFile[]> | undefined;
  const load = () => {
    loaded ??= Promise.all(files.map(readConfig)).then((cs) => cs.filter((c): c is DockerConfigFile => c !== undefined));
    return loaded;
  };
  return async (host) => {
    const keys = dockerConfigKeys(host);
    for (const cfg of await load()) {
      const helper = keys.map((k) => cfg.credHelpers?.[k]).find(Boolean);
      if (helper) return runHelper(helper, host, opts.helperTimeoutMs);
      const auths = cfg.auths ?? {};
      for (const k of keys) {
        const entry = auths[k] ?? Object.entries(auths).find(([key]) => normaliseKey(key) === normaliseKey(k))?.[1];
        if (!entry) continue;
        const cred = fromAuthEntry(entry, host);
        if (cred) return cred;
      }
      if (cfg.credsStore) {
        const c = await runHelper(cfg.credsStore, host, opts.helperTimeoutMs);
        if (c) return c;
      }
    }
    return undefined;
  };
}

async function readConfig(file: string): Promise<DockerConfigFile | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new FerryError("CREDENTIALS", `cannot read auth file ${file}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text) as DockerConfigFile;
  } catch {
    throw new FerryError("CREDENTIALS", `auth file ${file} is not valid JSON`);
  }
}

function fromAuthEntry(entry: { auth?: string; username?: string; password?: string; identitytoken?: string }, host: string): Credential | undefined {
  let username = entry.username;
  let password = entry.password;
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const i = decoded.indexOf(":");
    if (i < 0) throw new FerryError("CREDENTIALS", `auth entry for ${host} is not base64 of USER:PASS`);
    username = decoded.slice(0, i);
    password = decoded.slice(i + 1);
  }
  if (entry.identitytoken) return { kind: "identity-token", identityToken: entry.identitytoken, ...(username ? { username } : {}) };
  if (username !== undefined && password !== undefined && (username || password)) return { kind: "basic", username, password };
  return undefined;
}

/**
 * The docker-credential-helpers protocol's answer when a store has nothing for a host
 * (`ErrCredentialsNotFound`): anonymous access, not a failure.
 */
const HELPER_NOT_FOUND = "credentials not found in native keychain";

/** Runs `docker-credential-<name> get` with the host on stdin (docker-credential-helpers protocol); undefined when it has nothing. */
export function runHelper(name: string, host: string, timeoutMs = 10_000): Promise<Credential | undefined> {
  const serverUrl = credentialHelperServer(host);
  return new Promise((resolve, reject) => {
    const child = execFile(`docker-credential-${name}`, ["get"], { timeout: timeoutMs, maxBuffer: 64 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        if (stdout.trim() === HELPER_NOT_FOUND) {
          resolve(undefined);
          return;
        }
        const said = `${stdout}${stderr}`.trim().slice(0, 200);
        reject(new FerryError("CREDENTIALS", `credential helper docker-credential-${name} failed for ${host}${said ? `: ${said}` : ""}`));
        return;
      }
      try {
        const r = JSON.parse(stdout) as { Username?: string; Secret?: string };
        if (!r.Secret) resolve(undefined);
        else if (r.Username === "<token>") resolve({ kind: "identity-token", identityToken: r.Secret });
        else resolve({ kind: "basic", username: r.Username ?? "", password: r.Secret });
      } catch {
        reject(new FerryError("CREDENTIALS", `credential helper docker-credential-${name} printed no JSON`));
      }
    });
    child.stdin?.end(serverUrl);
  });
}

/** Tries each provider in turn; the first credential found wins. */
export function chainCredentials(...providers: Array<CredentialProvider | undefined>): CredentialProvider {
  const ps = providers.filter((p): p is CredentialProvider => p !== undefined);
  return async (host, opts) => {
    for (const p of ps) {
      const c = await p(host, opts);
      if (c) return c;
    }
    return undefined;
  };
}
