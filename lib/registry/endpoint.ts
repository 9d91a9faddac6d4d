/**
 * The narrow interface registry operations (manifests.ts, blobs.ts, tags.ts, blob-upload.ts,
 * blob-download.ts) work on: send a request through the transport, and know which host, side
 * and profile it is. Operations never see a client's agent, auth or options.
 */
import type { Side } from "../errors.ts";
import type { RegistryRequest, Reply } from "./exchange.ts";
import type { HostProfile } from "./host-profile.ts";
import type { RetryOptions } from "./retry.ts";

/** One registry host as operations see it. */
export interface RegistryEndpoint {
  /** `host[:port]`. */
  readonly host: string;
  /** Which side of a copy this endpoint serves; set on every error it raises. */
  readonly side: Side | undefined;
  /** What this registry does differently (chunk caps, no chunked uploads). */
  readonly profile: HostProfile;
  /** The transport's retry policy, for operations that retry a whole sequence (an upload). */
  readonly retry: RetryOptions;
  /**
   * Sends a request through scheme probing, auth, retries, redirects, the rate budget and error
   * mapping. Resolves with a status in `expect` (its body to consume) or rejects with a FerryError.
   */
  send(r: RegistryRequest): Promise<Reply>;
}
