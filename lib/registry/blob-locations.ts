/**
 * Where this process last saw each blob on one registry: the repository it uploaded the blob to,
 * mounted it into, or found it in. A copy of the same blob into another repository of that
 * registry then mounts it from there (one request) instead of a HEAD and an upload, the way
 * containers/image's blob info cache lets skopeo mount. Memory only, bounded, least recently
 * noted first out; an entry that a mount proves wrong is forgotten.
 */

/** Entries kept per registry (about 150 bytes each). */
export const BLOB_LOCATIONS_MAX = 20_000;

export class BlobLocations {
  private readonly where = new Map<string, string>();

  constructor(private readonly max = BLOB_LOCATIONS_MAX) {}

  /** Records that `repository` holds `digest` now. */
  note(digest: string, repository: string): void {
    this.where.delete(digest);
    this.where.set(digest, repository);
    if (this.where.size > this.max) this.where.delete(this.where.keys().next().value as string);
  }

  /** The repository last noted for `digest`. */
  get(digest: string): string | undefined {
    return this.where.get(digest);
  }

  /** Drops `digest`'s entry if it still names `repository` (a mount from there failed). */
  forget(digest: string, repository: string): void {
    if (this.where.get(digest) === repository) this.where.delete(digest);
  }
}
