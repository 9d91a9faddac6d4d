/**
 * Where this process has put each blob on one registry, and from which source repository it
 * read those bytes (hashed on the way: a verified copy). A later copy of the same blob from the
 * same source into another repository of that registry mounts it from there (one request)
 * instead of a HEAD and an upload, the way containers/image's blob info cache lets skopeo mount.
 *
 * Keyed by the source on purpose: a copy may only mount what its own source served before, so a
 * manifest naming a digest its source does not hold can never pull a blob out of another
 * repository the destination's credentials can read. A HEAD that finds a blob notes nothing.
 *
 * Memory only and bounded (least recently noted out first). A mount the registry refuses drops
 * that place; after three refusals in a row without one success (a registry that does not mount,
 * such as ECR without blob mounting, or places gone stale) no mount is tried for five minutes.
 */

/** Blobs remembered per registry (each with up to {@link REPOS_PER_BLOB} repositories). */
export const BLOB_LOCATIONS_MAX = 20_000;
/** Repositories remembered per blob, most recent first. */
export const REPOS_PER_BLOB = 4;
/** Refused mounts in a row after which no mount is tried for {@link PAUSE_MS}. */
export const REFUSALS_TO_PAUSE = 3;
export const PAUSE_MS = 5 * 60_000;

interface Entry {
  source: string;
  repos: string[];
}

export class BlobLocations {
  private readonly where = new Map<string, Entry>();
  private refusals = 0;
  private pausedUntil = 0;

  constructor(
    private readonly max = BLOB_LOCATIONS_MAX,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records that `repository` holds `digest`, copied from (or mounted for a copy of) `source`. */
  note(digest: string, repository: string, source: string): void {
    const old = this.where.get(digest);
    const repos = old?.source === source ? [repository, ...old.repos.filter((r) => r !== repository)].slice(0, REPOS_PER_BLOB) : [repository];
    this.where.delete(digest);
    this.where.set(digest, { source, repos });
    if (this.where.size > this.max) this.where.delete(this.where.keys().next().value as string);
  }

  /**
   * The repository to mount `digest` from into `repository` for a copy from `source`: one this
   * process put it in from the same source. None when it is already known to be in `repository`
   * (a HEAD then finds it), when the source differs, or while mounts are paused.
   */
  mountSource(digest: string, repository: string, source: string): string | undefined {
    if (this.now() < this.pausedUntil) return undefined;
    const e = this.where.get(digest);
    if (!e || e.source !== source || e.repos.includes(repository)) return undefined;
    return e.repos[0];
  }

  /** A mount from `repository` worked. */
  mounted(): void {
    this.refusals = 0;
  }

  /** A mount from `repository` was refused: that place is forgotten. */
  refused(digest: string, repository: string): void {
    if (++this.refusals >= REFUSALS_TO_PAUSE) {
      this.refusals = 0;
      this.pausedUntil = this.now() + PAUSE_MS;
    }
    const e = this.where.get(digest);
    if (!e) return;
    e.repos = e.repos.filter((r) => r !== repository);
    if (e.repos.length === 0) this.where.delete(digest);
  }
}
