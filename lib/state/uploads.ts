/**
 * The upload-records concern of the job store: where a large blob's copy stopped, so the next
 * delivery of its copy task resumes it (lib/registry/resumable-copy.ts) instead of starting over.
 */

/** Where a large blob's copy stopped: the destination's upload session, the bytes it holds, and the hash state over them. */
export interface UploadRecord {
  /** The blob: a record is used only for the same digest and size. */
  digest: string;
  size: number;
  /** The upload session's Location URL (absolute). */
  location: string;
  /** Bytes the session holds, confirmed with the registry's upload status. */
  offset: number;
  /** The digest's hash state over bytes [0, offset), base64 (hash-wasm's `save()`). */
  hashState: string;
}

/** How long an upload record is kept: registries purge idle sessions after a day or more. */
export const UPLOAD_RECORD_TTL_DAYS = 2;

/** Resume points of large blob copies (one per copy task and blob), dropped after {@link UPLOAD_RECORD_TTL_DAYS}. */
export interface UploadRecords {
  /** Saves (or replaces) the record under `key`. */
  saveUpload(key: string, rec: UploadRecord): Promise<void>;
  /** The record under `key`; undefined when none, or when it has expired. */
  getUpload(key: string): Promise<UploadRecord | undefined>;
  /** Drops the record under `key` (none is fine). */
  dropUpload(key: string): Promise<void>;
}
