/**
 * The written-tags concern of the job store: which digest ferry itself last moved a destination
 * tag to, and from which source tag. Delete propagation removes a destination tag only while it
 * still holds that digest (else someone else wrote it), and a backfill finds the destination tags
 * whose source tags are gone by reading them per source repository. No TTL: they outlive jobs.
 */

/** A destination tag ferry moved. */
export interface WrittenTag {
  /** The source repository (`host/path`), and the tag the image had there (absent for a request by digest). */
  source: string;
  sourceTag?: string;
  /** The destination repository (`host/path`) and the tag ferry moved there. */
  destination: string;
  tag: string;
  /** What ferry put under the tag. */
  digest: string;
  /** The event time of the move (epoch ms): an older move never overwrites the record of a newer one. */
  eventTime: number;
  jobId: string;
  rule?: string;
}

/** Written tags, keyed by source repository and destination tag. */
export interface WrittenTags {
  /** Records a tag move, unless a move with a newer event time is recorded for the same source and destination tag. True when recorded. */
  noteWritten(rec: WrittenTag): Promise<boolean>;
  /** What ferry last wrote from `source` to `destination:tag`; undefined when nothing. */
  getWritten(source: string, destination: string, tag: string): Promise<WrittenTag | undefined>;
  /** Every destination tag written from `source` (any order). */
  writtenFrom(source: string): Promise<WrittenTag[]>;
  /** Forgets the record while it still says `digest` (a newer move's record stays). True when forgotten. */
  forgetWritten(source: string, destination: string, tag: string, digest: string): Promise<boolean>;
}

/** Why a deletion left a destination tag as it was (stable codes, as jobs record them). */
export type KeptReason =
  /** The tag exists at the source again (pushed again within the delay). */
  | "REPUSHED"
  /** ferry has no record of writing this tag from this source: someone else put it there. */
  | "NOT_WRITTEN_BY_FERRY"
  /** The tag holds another digest than the one ferry wrote: someone moved it since. */
  | "MOVED_SINCE_WRITTEN"
  /** A newer event moved the tag through ferry after the deletion happened. */
  | "SUPERSEDED"
  /** The registry refused to delete by tag, and another tag still references the manifest: deleting it by digest would remove that tag too. */
  | "REFERENCED"
  /** The tag is no longer there. */
  | "ALREADY_GONE";

/** What a delete job did to one destination tag. */
export interface TagDeletion {
  /** `host/repository:tag`. */
  destination: string;
  outcome: "deleted" | "kept";
  /** The digest the tag held (deleted), or that ferry wrote (kept). */
  digest?: string;
  /** Deleted: by tag (the registry can), or by digest (no other tag referenced it). */
  by?: "tag" | "digest";
  reason?: KeptReason;
  /** Kept: the details (the other tags referencing the manifest, the digest found). */
  detail?: string;
}
