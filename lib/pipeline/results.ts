/** A job's result, built in one place: each destination's addresses, and the job's own summary. */
import type { Repository } from "../oci/reference.ts";
import type { DestinationResult, JobResult } from "../state/store.ts";

/**
 * Where one destination ended up: its address by digest, and by tag when the tag holds this
 * digest (moved now, or already there); a superseded destination has no address by tag.
 */
export function destinationResult(
  repository: Repository,
  digest: string,
  opts: { tag?: string; upToDate?: boolean; superseded?: boolean } = {},
): DestinationResult {
  return {
    destination: repository.toString(),
    digest,
    ...(opts.upToDate ? { upToDate: true } : {}),
    ...(opts.superseded ? { superseded: true } : {}),
    ...(opts.tag && !opts.superseded ? { addressByTag: repository.address(opts.tag) } : {}),
    addressByDigest: repository.address(digest),
    registry: repository.registry,
    repository: repository.path,
    ...(opts.tag ? { tag: opts.tag } : {}),
    ...(opts.tag && !opts.superseded ? { shortAddressByTag: `${repository.path}:${opts.tag}` } : {}),
    shortAddressByDigest: `${repository.path}@${digest}`,
  };
}

/** The job's result: the first destination's digest and addresses, every destination, the warnings. */
export function jobResult(rootDigest: string, destinations: DestinationResult[], warnings: string[] = []): JobResult {
  const first = destinations[0];
  return {
    digest: first?.digest ?? rootDigest,
    addressByDigest: first?.addressByDigest ?? "",
    ...(first?.addressByTag ? { addressByTag: first.addressByTag } : {}),
    destinations,
    ...(warnings.length ? { warnings } : {}),
  };
}
