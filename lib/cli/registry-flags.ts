/** Registry-access flags shared by commands: credentials, auth file, plain HTTP hosts, TLS. */
import type { ParseArgsConfig } from "node:util";
import { FerryError } from "../errors.ts";
import { staticCredentials, type CredentialProvider, parseUserPass } from "../registry/credentials.ts";
import { RegistryPool } from "../registry/pool.ts";

export const REGISTRY_OPTIONS = {
  authfile: { type: "string" },
  "plain-http": { type: "string", multiple: true },
  "ca-file": { type: "string" },
  insecure: { type: "boolean" },
} as const satisfies ParseArgsConfig["options"];

export const REGISTRY_HELP = `Registry access:
  --authfile PATH          docker/podman auth file (default: $REGISTRY_AUTH_FILE, ~/.docker/config.json)
  --plain-http HOST        talk plain HTTP to HOST (repeatable; loopback hosts fall back to it anyway)
  --ca-file PATH           trust the CA certificates in PATH besides the system's
  --insecure               do not verify TLS certificates (not recommended)`;

export interface RegistryFlags {
  authfile?: string | undefined;
  "plain-http"?: string[] | undefined;
  "ca-file"?: string | undefined;
  insecure?: boolean | undefined;
}

/** A pool configured from the flags. */
export function poolFromFlags(f: RegistryFlags): RegistryPool {
  return new RegistryPool({
    hosts: Object.fromEntries((f["plain-http"] ?? []).map((h) => [h, { plainHttp: true }])),
    defaults: { ...(f["ca-file"] ? { caFile: f["ca-file"] } : {}), ...(f.insecure ? { insecure: true } : {}) },
    ...(f.authfile ? { authFile: f.authfile } : {}),
  });
}

/** `USER:PASS` → a provider, or undefined. Usage error on a malformed value. */
export function credsFlag(value: string | undefined, flag: string): CredentialProvider | undefined {
  if (value === undefined) return undefined;
  try {
    const c = parseUserPass(value);
    return staticCredentials(c.username, c.password);
  } catch {
    throw new FerryError("USAGE", `${flag} must be USER:PASS`);
  }
}
