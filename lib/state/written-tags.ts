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
