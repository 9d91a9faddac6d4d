/** Registry clients from the config's `registries:` section (TLS, plain HTTP, credentials, budgets). */
import { readFile } from "node:fs/promises";
import { type FerryConfig, secretFrom } from "../config.ts";
import { FerryError } from "../errors.ts";
import { type CredentialProvider, dockerConfigCredentials, staticCredentials } from "../registry/credentials.ts";
import { type HostSettings, RegistryPool } from "../registry/pool.ts";
import { SharedBudget } from "../registry/shared-budget.ts";
import type { RateBudgets } from "../state/store.ts";

/** Resolves a Secrets Manager ARN to `{username, password}` (given by functions/ on AWS). */
export type SecretResolver = (arn: string) => Promise<{ username: string; password: string }>;

/** How long a secret read from a file or Secrets Manager is trusted before it is read again. */
export const SECRET_TTL_MS = 5 * 60_000;

/**
 * A value read lazily and kept for `ttlMs`; read again sooner when the registry refused it
 * (`refresh`): a rotated secret is picked up without a restart.
 */
function cachedRead<T>(read: () => Promise<T>, ttlMs = SECRET_TTL_MS): (refresh?: boolean) => Promise<T> {
  let value: Promise<T> | undefined;
  let readAt = 0;
  return (refresh = false) => {
    if (!value || refresh || Date.now() - readAt > ttlMs) {
      readAt = Date.now();
      value = read().catch((e: unknown) => {
        value = undefined;
        throw e;
      });
    }
    return value;
  };
}

/**
 * Credentials of a registry entry, in order: inline or environment values, a password file, a
 * docker config, a Secrets Manager ARN. Files and secrets are read lazily, kept for
 * SECRET_TTL_MS, read again when the registry refuses them, and never logged.
 */
function credentialsOf(r: FerryConfig["registries"][number], env: NodeJS.ProcessEnv, resolveSecret?: SecretResolver): CredentialProvider | undefined {
  const username = secretFrom(r.username, r.usernameEnv, env);
  const password = secretFrom(r.password, r.passwordEnv, env);
  if (password === undefined && r.passwordFile) {
    const file = r.passwordFile;
    const read = cachedRead(async () => (await readFile(file, "utf8")).trim());
    return async (_host, opts) => ({ kind: "basic", username: username ?? "", password: await read(opts?.refresh) });
  }
  if (username !== undefined && password !== undefined) return staticCredentials(username, password);
  if (r.dockerConfig) return dockerConfigCredentials({ files: [r.dockerConfig] });
  if (r.secretArn) {
    const arn = r.secretArn;
    const read = cachedRead(async () => {
      if (!resolveSecret) throw new FerryError("CREDENTIALS", `${r.host}: secretArn needs AWS (Secrets Manager); use username/passwordEnv locally`);
      return resolveSecret(arn);
    });
    return async (_host, opts) => {
      const s = await read(opts?.refresh);
      return { kind: "basic", username: s.username, password: s.password };
    };
  }
  return undefined;
}

export function poolFromConfig(
  config: FerryConfig,
  env: NodeJS.ProcessEnv = process.env,
  resolveSecret?: SecretResolver,
  defaultCredentials?: CredentialProvider,
  budgets?: RateBudgets,
): RegistryPool {
  const hosts: Record<string, HostSettings> = {};
  for (const r of config.registries) {
    const credentials = credentialsOf(r, env, resolveSecret);
    hosts[r.host] = {
      ...(r.plainHttp ? { plainHttp: true } : {}),
      ...(r.insecure ? { insecure: true } : {}),
      ...(r.caFile ? { caFile: r.caFile } : {}),
      ...(r.uploadMode ? { uploadMode: r.uploadMode } : {}),
      ...(r.profile ? { profile: r.profile } : {}),
      ...(r.tokenRealms ? { tokenRealms: r.tokenRealms } : {}),
      ...(r.requestsPerSecond ? { requestsPerSecond: r.requestsPerSecond } : {}),
      ...(credentials ? { credentials } : {}),
    };
  }
  // In a server, docker's config of whoever runs it is not a credential source: only the config.
  return new RegistryPool({
    hosts,
    // The config's `transfer:` stall guards apply to every host.
    defaults: { transfer: config.transfer },
    authFile: false,
    ...(defaultCredentials ? { defaultCredentials } : {}),
    // One budget per registry for every worker (Lambda environments, ferry serve's handlers), kept in the store.
    ...(budgets
      ? {
          budgetFor: (host: string, perSecond: number) =>
            new SharedBudget(
              { take: (want, rate, burst) => budgets.takeTokens(host, want, rate, burst), hold: (until) => budgets.holdBudget(host, until) },
              { perSecond, name: host },
            ),
        }
      : {}),
  });
}
