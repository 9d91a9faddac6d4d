/**
 * Registry quirks as named host profiles, chosen by host and overridable in the config
 * (`registries[].profile`, e.g. for GHCR or ECR behind a domain of your own). Code asks the
 * profile what a host does, never the host's name: every host-name pattern lives in this file.
 */

import { DOCKER_HUB_ALIASES, DOCKER_HUB_HOST } from "../oci/reference.ts";

/** The profiles' names, for the config's schema. */
export const PROFILE_NAMES = ["generic", "ecr", "ghcr", "dockerhub"] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

export interface HostProfile {
  name: ProfileName;
  /** Largest PATCH the registry takes (GHCR answers 416 over 4 MiB). */
  maxChunkBytes?: number;
  /** Chunked uploads are not supported (ECR): use monolithic uploads instead. */
  neverChunk?: boolean;
  /** Token realms on other hosts that may receive the registry's credentials. */
  realmHosts?: readonly string[];
}

export const PROFILES: Readonly<Record<ProfileName, HostProfile>> = {
  generic: { name: "generic" },
  ecr: { name: "ecr", neverChunk: true },
  ghcr: { name: "ghcr", maxChunkBytes: 4 * 1024 * 1024 },
  dockerhub: { name: "dockerhub", realmHosts: ["auth.docker.io"] },
};

const PRIVATE_ECR = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/;
const PUBLIC_ECR = "public.ecr.aws";
const GHCR = "ghcr.io";
const DOCKER_HUB = DOCKER_HUB_ALIASES;
/** The server URL docker's own tools file Docker Hub's credentials under. */
const DOCKER_HUB_INDEX = "https://index.docker.io/v1/";

/** The profile of `host`: the one named in the config when given, else the one its name implies. */
export function profileFor(host: string, named?: ProfileName): HostProfile {
  if (named) return PROFILES[named];
  if (PRIVATE_ECR.test(host) || host === PUBLIC_ECR) return PROFILES.ecr;
  if (host === GHCR) return PROFILES.ghcr;
  if (DOCKER_HUB.has(host)) return PROFILES.dockerhub;
  return PROFILES.generic;
}

/** A private ECR registry's account and region, from its host name (undefined for any other host). */
export function ecrRegistryOf(host: string): { accountId: string; region: string } | undefined {
  const m = PRIVATE_ECR.exec(host);
  return m ? { accountId: m[1] as string, region: m[2] as string } : undefined;
}

/**
 * Keys a docker `config.json` may hold this host's credentials under: Docker Hub's are filed
 * under its index URL and aliases; any other host under its name, bare or as a URL.
 */
export function dockerConfigKeys(host: string): string[] {
  if (DOCKER_HUB.has(host)) return [DOCKER_HUB_INDEX, "index.docker.io", "docker.io", "registry-1.docker.io", "https://registry-1.docker.io"];
  return [host, `https://${host}`, `http://${host}`, `https://${host}/v1/`, `https://${host}/v2/`];
}

/** The server URL a docker credential helper knows `host` by (Docker Hub's API host: its index URL). */
export function credentialHelperServer(host: string): string {
  return host === DOCKER_HUB_HOST ? DOCKER_HUB_INDEX : host;
}
