/** Repositories to registry stores, through the shared pool. */
import type { Side } from "../errors.ts";
import type { Repository } from "../oci/reference.ts";
import { RegistryStore } from "../replicate/registry-store.ts";
import type { RegistryPool } from "../registry/pool.ts";

export function storeFor(pool: RegistryPool, repo: Repository, side: Side): RegistryStore {
  return new RegistryStore(pool.client(repo.registry, side), repo.path);
}
