/** The record delete propagation relies on: what merge put under a destination tag, and from which source tag. */
import { parseReference, type Repository } from "../oci/reference.ts";
import type { Job } from "../state/store.ts";
import type { PipelineDeps } from "./deps.ts";

/**
 * Notes that `job` moved `destination:tag` to `digest` (called by merge once the move is recorded
 * under the tag's lease). A failure to note is logged, not raised: the tag has moved, and a tag
 * without a record is only ever left alone by a deletion.
 */
export async function noteTagWritten(
  deps: PipelineDeps,
  job: Job,
  source: string,
  destination: Repository,
  tag: string,
  digest: string,
  eventTime: number,
): Promise<void> {
  let sourceTag: string | undefined;
  try {
    sourceTag = parseReference(job.request.source, { defaultTag: false }).tagName;
  } catch {
    sourceTag = undefined;
  }
  try {
    await deps.store.noteWritten({
      source,
      ...(sourceTag ? { sourceTag } : {}),
      destination: destination.toString(),
      tag,
      digest,
      eventTime,
      jobId: job.id,
      ...(job.request.rule ? { rule: job.request.rule } : {}),
    });
  } catch (e) {
    deps.log.warn("the tag moved, but what ferry wrote there was not recorded: a deletion will leave it", {
      jobId: job.id,
      dst: destination.address(tag),
      error: (e as Error).message,
    });
  }
}
