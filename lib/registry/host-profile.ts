/**
 * Registry quirks as named host profiles, chosen by host and overridable in the config
 * (`registries[].profile`, e.g. for GHCR or ECR behind a domain of your own). Code asks the
 * profile what a host does, never the host's name.
 */

export type ProfileName = "generic" | "ecr" | "ghcr" | "dockerhub";

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

const ECR = /^(\d{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$|^public\.ecr\.aws$/;
const DOCKER_HUB = new Set(["registry-1.docker.io", "docker.io", "index.docker.io"]);

/** The profile of `host`: the one named in the config when given, else the one its name implies. */
export function profileFor(host: string, named?: ProfileName): HostProfile {
  if (named) return PROFILES[named];
  if (ECR.test(host)) return PROFILES.ecr;
  if (host === "ghcr.io") return PROFILES.ghcr;
  if (DOCKER_HUB.has(host)) return PROFILES.dockerhub;
  return PROFILES.generic;
}
