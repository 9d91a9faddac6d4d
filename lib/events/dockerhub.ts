/**
 * Docker Hub: `{callback_url, push_data: {tag, pushed_at}, repository: {repo_name}}`. No digest and
 * no signature: authenticated by `?token=<secret>` in the URL, and treated as a hint re-checked
 * against the registry at plan time. `callback_url` is never called.
 */
import { createHash } from "node:crypto";
import { BadPayloadError, type WebhookProvider } from "./types.ts";
import { eventTime, jsonBody, need, obj, queryTokenMatches } from "./util.ts";

export const dockerhub: WebhookProvider = {
  name: "dockerhub",
  verify: (req, secret) => queryTokenMatches(req, secret),
  parse(req) {
    const b = jsonBody(req);
    const push = obj(b.push_data);
    const repo = obj(b.repository);
    if (!push || !repo) throw new BadPayloadError("want push_data and repository");
    const name = need(repo.repo_name, "repository.repo_name").toLowerCase();
    const tag = typeof push.tag === "string" ? push.tag : undefined;
    if (!tag) return []; // nothing to tag
    return [
      {
        registry: "docker.io",
        repository: name.includes("/") ? name : `library/${name}`,
        tag,
        eventTime: eventTime(push.pushed_at),
        deliveryId: createHash("sha256")
          .update(`${name}:${tag}:${String(push.pushed_at)}`)
          .digest("hex"),
      },
    ];
  },
};
