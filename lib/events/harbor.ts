/**
 * Harbor 2.x, Default (`{type: PUSH_ARTIFACT, occur_at, event_data}`) and CloudEvents
 * (`application/cloudevents+json`, `type: harbor.artifact.pushed`, `data` = event_data) formats.
 * Authenticated by the policy's static Authorization value. A "tag" equal to a digest is a digest.
 */
import { createHash } from "node:crypto";
import { BadPayloadError, type ImageEvent, type WebhookProvider } from "./types.ts";
import { digestOf, eventTime, hostOf, jsonBody, need, obj, staticAuthMatches, str, tagOrDigest } from "./util.ts";

const PUSH = new Set(["PUSH_ARTIFACT", "pushImage", "harbor.artifact.pushed"]);

export const harbor: WebhookProvider = {
  name: "harbor",
  verify: (req, secret) => staticAuthMatches(req, secret),
  parse(req) {
    const b = jsonBody(req);
    const cloudEvent = b.specversion !== undefined;
    const type = need(b.type, "type");
    if (!PUSH.has(type)) return []; // pulls, deletes, scans, quota, replication
    const data = obj(cloudEvent ? b.data : b.event_data);
    if (!data) throw new BadPayloadError(cloudEvent ? "data is missing" : "event_data is missing");
    const repo = obj(data.repository);
    const repository = need(repo?.repo_full_name, "repository.repo_full_name").toLowerCase();
    if (!Array.isArray(data.resources)) throw new BadPayloadError("resources is not an array");
    const when = eventTime(cloudEvent ? b.time : b.occur_at);
    const out: ImageEvent[] = [];
    data.resources.forEach((r: unknown, i: number) => {
      const res = obj(r);
      if (!res) throw new BadPayloadError(`resources[${i}] is not an object`);
      const { tag, digest: tagDigest } = tagOrDigest(res.tag);
      const digest = digestOf(res.digest) ?? tagDigest;
      if (!tag) return; // an untagged push: the tagged index carries the tag
      const registry = hostOf(str(res.resource_url)?.split("/")[0]);
      out.push({
        ...(registry ? { registry } : {}),
        repository,
        tag,
        ...(digest ? { digest } : {}),
        eventTime: when,
        deliveryId: str(b.id) ?? createHash("sha256").update(`${repository}:${tag}@${digest}:${when}`).digest("hex"),
      });
    });
    return out;
  },
};
