/**
 * A backfill's half of delete propagation: destination tags ferry wrote from a source tag that
 * the source no longer lists become delete jobs, as a webhook's deletion would (same delay, same
 * checks when it runs).
 */
import type { RuleConfig } from "../config.ts";
import type { Repository } from "../oci/reference.ts";
import type { ReplicationRequest } from "../queue/messages.ts";
import { deleteDelayOf } from "../rules/deletes.ts";
import { tagAllowed } from "../rules/tags.ts";
import type { WrittenTag, WrittenTags } from "../state/store.ts";
import { deleteRequest } from "./deletes-ingress.ts";
import { deliveryJobId } from "./ingress.ts";

/**
 * The delete requests for `repo` under `rule`: one per source tag ferry wrote from (under this
 * rule) that is not in `listed` (the source's whole tag list, before any filter), with a job id
 * that stays the same while the records do, so later runs do not queue it again.
 */
export async function missingTagDeletes(
  written: WrittenTags,
  rule: RuleConfig,
  repo: Repository,
  listed: ReadonlySet<string>,
): Promise<Array<{ request: ReplicationRequest; jobId: string }>> {
  if (deleteDelayOf(rule.deletes) === undefined) return [];
  const bySourceTag = new Map<string, WrittenTag[]>();
  for (const r of await written.writtenFrom(repo.toString())) {
    if (r.rule !== rule.name || !r.sourceTag || listed.has(r.sourceTag) || !tagAllowed(rule, r.sourceTag)) continue;
    bySourceTag.set(r.sourceTag, [...(bySourceTag.get(r.sourceTag) ?? []), r]);
  }
  const eventTime = new Date().toISOString();
  return [...bySourceTag].map(([tag, recs]) => {
    const destinations = recs.map((r) => `${r.destination}:${r.tag}`).sort();
    const digests = recs.map((r) => `${r.destination}:${r.tag}@${r.digest}`).sort();
    return {
      request: deleteRequest(rule, repo.toString(), tag, destinations, { trigger: "backfill", eventTime }),
      jobId: deliveryJobId("backfill-delete", rule.name, repo.toString(), tag, ...digests),
    };
  });
}
