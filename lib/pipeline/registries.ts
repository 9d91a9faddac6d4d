/** Registry clients from the config's `registries:` section (TLS, plain HTTP, credentials, budgets). */
import { readFileSync } from "node:fs";
import { type FerryConfig, secretFrom } from "../config.ts";
import { FerryError } from "../errors.ts";
import { type CredentialProvider, dockerConfigCredentials, staticCredentials } from "../registry/credentials.ts";
import { type HostSettings, RegistryPool } from "../registry/pool.ts";

/** Resolves a Secrets Manager ARN to `{username, password}` (given by functions/ on AWS). */
export type SecretResolver = (arn: string) => Promise<{ username: string; password: string }>;

/**
 * Credentials of a registry entry, in order: inline or environment values, a password file, a
 * docker config, a Secrets Manager ARN. Secrets are read lazily, once, and never logged.
 */
function credentialsOf(r: FerryConfig["registries"][number], env: NodeJS.ProcessEnv, resolveSecret?: SecretResolver): CredentialProvider | undefined {
  const username = secretFrom(r.username, r.usernameEnv, env);
  let password = secretFrom(r.password, r.passwordEnv, env);
  if (password === undefined && r.passwordFile) {
    const file = r.passwordFile;
    return async () => {
      password ??= readFileSync(file, "utf8").trim();
      return { kind: "basic", username: username ?? "", password };
    };
  }
  if (username !== undefined && password !== undefined) return staticCredentials(username, password);
  if (r.dockerConfig) return dockerConfigCredentials({ files: [r.dockerConfig] });
  if (r.secretArn) {
    const arn = r.secretArn;
    let cached: Promise<{ username: string; password: string }> | undefined;
    return async () => {
      if (!resolveSecret) throw new FerryError("CREDENTIALS", `${r.host}: secretArn needs AWS (Secrets Manager); use username/passwordEnv locally`);
      cached ??= resolveSecret(arn);
      const s = await cached;
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
  });
}
