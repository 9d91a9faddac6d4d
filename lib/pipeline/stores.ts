/** `host/repository` strings to registry stores, through the shared pool. */
import type { Side } from "../errors.ts";
import { RegistryStore } from "../replicate/registry-store.ts";
import type { RegistryPool } from "../registry/pool.ts";

/** Splits `host[:port]/repository`. */
export function splitRepository(s: string): { host: string; repository: string } {
  const i = s.indexOf("/");
  return { host: s.slice(0, i), repository: s.slice(i + 1) };
}

export function storeFor(pool: RegistryPool, repo: string, side: Side): RegistryStore {
  const { host, repository } = splitRepository(repo);
  return new RegistryStore(pool.client(host, side), repository);
}
