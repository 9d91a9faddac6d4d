/** Opens a source or sink for a parsed location. */
import type { Side } from "../errors.ts";
import type { CredentialProvider } from "../registry/credentials.ts";
import type { RegistryPool } from "../registry/pool.ts";
import type { Location } from "./location.ts";
import { OciLayoutStore } from "./oci-layout.ts";
import { RegistryStore } from "./registry-store.ts";

/** A store for `loc`: a registry repository (client from the pool) or a layout directory. */
export function openStore(loc: Location, pool: RegistryPool, side: Side, credentials?: CredentialProvider): RegistryStore | OciLayoutStore {
  return loc.kind === "oci" ? new OciLayoutStore(loc.dir) : new RegistryStore(pool.client(loc.ref.registry, side, credentials), loc.ref.repository);
}
