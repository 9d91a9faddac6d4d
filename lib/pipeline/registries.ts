/** Registry clients from the config's `registries:` section (TLS, plain HTTP, credentials). */
import { type FerryConfig, secretFrom } from "../config.ts";
import { staticCredentials } from "../registry/credentials.ts";
import { type HostSettings, RegistryPool } from "../registry/pool.ts";

export function poolFromConfig(config: FerryConfig, env: NodeJS.ProcessEnv = process.env): RegistryPool {
  const hosts: Record<string, HostSettings> = {};
  for (const r of config.registries) {
    const username = secretFrom(r.username, r.usernameEnv, env);
    const password = secretFrom(r.password, r.passwordEnv, env);
    hosts[r.host] = {
      ...(r.plainHttp ? { plainHttp: true } : {}),
      ...(r.insecure ? { insecure: true } : {}),
      ...(r.caFile ? { caFile: r.caFile } : {}),
      ...(r.uploadMode ? { uploadMode: r.uploadMode } : {}),
      ...(username !== undefined && password !== undefined ? { credentials: staticCredentials(username, password) } : {}),
    };
  }
  // In a server, docker's config of whoever runs it is not a credential source: only the config.
  return new RegistryPool({ hosts, authFile: false });
}
