/** The port's rules, written once for every adapter: which statuses an update may move a job from. */
import { ACTIVE_STATUSES, FINAL_STATUSES, type JobPatch, type JobStatus } from "./store.ts";

/**
 * The statuses `updateJob` may apply `patch` from: `from`, or every status not yet final when it
 * is omitted (a late write never touches a finished job). A patch to a status not yet final never
 * applies to a final job: only a re-open brings one back, restoring its index entry and TTL.
 */
export function updatableFrom(patch: JobPatch, from: readonly JobStatus[] = ACTIVE_STATUSES): JobStatus[] {
  const reviving = patch.status !== undefined && !FINAL_STATUSES.includes(patch.status);
  return from.filter((s) => !(reviving && FINAL_STATUSES.includes(s)));
}
