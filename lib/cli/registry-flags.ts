/** Registry-access flags shared by commands: credentials, auth file, plain HTTP hosts, TLS, stall guards. */
import type { ParseArgsConfig } from "node:util";
import { FerryError } from "../errors.ts";
import { type Location, parseLocation } from "../replicate/location.ts";
import { staticCredentials, type CredentialProvider, parseUserPass } from "../registry/credentials.ts";
import { RegistryPool } from "../registry/pool.ts";
import { DEFAULT_TRANSFER, type TransferSettings } from "../registry/stall.ts";

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

/** The stall guards of every registry read, as the config file's `transfer:` section. */
export const TRANSFER_OPTIONS = {
  "stall-timeout": { type: "string" },
  "speed-limit": { type: "string" },
  "speed-time": { type: "string" },
} as const satisfies ParseArgsConfig["options"];

export const TRANSFER_HELP = `Stall guards (every registry read; a stalled read fails with STALL and is retried once):
  --stall-timeout SECONDS  fail a read that gets no answer, or no byte, for SECONDS (default ${DEFAULT_TRANSFER.stallTimeout})
  --speed-limit BYTES      fail a read that averages under BYTES per second over --speed-time
                           (default ${DEFAULT_TRANSFER.speedLimit}; 0 turns this check off)
  --speed-time SECONDS     the window --speed-limit is measured over (default ${DEFAULT_TRANSFER.speedTime})`;

export interface RegistryFlags {
  authfile?: string | undefined;
  "plain-http"?: string[] | undefined;
  "ca-file"?: string | undefined;
  insecure?: boolean | undefined;
  "stall-timeout"?: string | undefined;
  "speed-limit"?: string | undefined;
  "speed-time"?: string | undefined;
}

/** A pool configured from the flags. Usage error on a malformed stall-guard value. */
export function poolFromFlags(f: RegistryFlags): RegistryPool {
  const transfer = transferFlags(f);
  return new RegistryPool({
    hosts: Object.fromEntries((f["plain-http"] ?? []).map((h) => [h, { plainHttp: true }])),
    defaults: {
      ...(f["ca-file"] ? { caFile: f["ca-file"] } : {}),
      ...(f.insecure ? { insecure: true } : {}),
      ...(Object.keys(transfer).length ? { transfer } : {}),
    },
    ...(f.authfile ? { authFile: f.authfile } : {}),
  });
}

/** `--stall-timeout`, `--speed-limit`, `--speed-time`, in the config file's ranges. */
export function transferFlags(f: RegistryFlags): Partial<TransferSettings> {
  const t: Partial<TransferSettings> = {};
  const stall = numberFlag(f["stall-timeout"], "--stall-timeout", 1, 3600, "a number of seconds from 1 to 3600");
  const limit = numberFlag(f["speed-limit"], "--speed-limit", 0, Number.MAX_SAFE_INTEGER, "a number of bytes per second, 0 or more");
  const time = numberFlag(f["speed-time"], "--speed-time", 1, 3600, "a number of seconds from 1 to 3600");
  if (stall !== undefined) t.stallTimeout = stall;
  if (limit !== undefined) t.speedLimit = limit;
  if (time !== undefined) t.speedTime = time;
  return t;
}

function numberFlag(value: string | undefined, flag: string, min: number, max: number, want: string): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(n >= min && n <= max)) throw new FerryError("USAGE", `${flag} must be ${want} (got ${JSON.stringify(value)})`);
  return n;
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

/** A SRC or DST argument: a registry reference or an OCI layout; a malformed one is a usage error (exit 2). */
export function locationArg(s: string): Location {
  try {
    return parseLocation(s);
  } catch (e) {
    throw e instanceof FerryError && e.code === "INVALID_REFERENCE" ? new FerryError("USAGE", e.message) : e;
  }
}
