/** Tag deletions at a source become delete jobs, for each rule that propagates deletes and takes the tag. */
import type { RuleConfig } from "../config.ts";
import type { ReplicationRequest } from "../queue/messages.ts";
import { deleteDelayOf } from "../rules/deletes.ts";
import { parseCosignTag, parseFallbackTag } from "../oci/referrers.ts";
import { matchRules } from "../rules/match.ts";
import { tagAllowed } from "../rules/tags.ts";

/** The delete request for `source:tag` (a `host/repo`) under `rule`, due `delaySeconds` after `now`. */
export function deleteRequest(
  rule: RuleConfig,
  source: string,
  tag: string,
  destinations: string[],
  o: { trigger: ReplicationRequest["trigger"]; eventTime: string; deliveryId?: string; now?: number },
): ReplicationRequest {
  const delay = deleteDelayOf(rule.deletes) ?? 0;
  return {
    source: `${source}:${tag}`,
    destinations,
    trigger: o.trigger,
    eventTime: o.eventTime,
    ...(o.deliveryId ? { deliveryId: o.deliveryId } : {}),
    rule: rule.name,
    action: "delete",
    notBefore: new Date((o.now ?? Date.now()) + delay * 1000).toISOString(),
  };
}

/** The delete requests a sender's tag deletion makes: one per rule with `deletes: propagate` that matches the repository and allows the tag. */
export function deleteRequestsFor(
  rules: readonly RuleConfig[],
  ev: { registry: string; repository: string; tag: string; eventTime: string; deliveryId: string },
): Array<{ request: ReplicationRequest; rule: string }> {
  // cosign's and the referrers fallback tags travel with their subjects: never deleted on their own.
  if (parseCosignTag(ev.tag) || parseFallbackTag(ev.tag)) return [];
  return matchRules(rules, { registry: ev.registry, repository: ev.repository, tag: ev.tag })
    .filter((m) => deleteDelayOf(m.rule.deletes) !== undefined && tagAllowed(m.rule, ev.tag))
    .map((m) => ({
      rule: m.rule.name,
      request: deleteRequest(m.rule, `${ev.registry}/${ev.repository}`, ev.tag, m.destinations, {
        trigger: "webhook",
        eventTime: ev.eventTime,
        deliveryId: ev.deliveryId,
      }),
    }));
}
