/**
 * Quay `repo_push`: `{repository, docker_url, updated_tags}` (a list, or a map in old versions).
 * No digest, no time, no signature: `?token=<secret>`, re-checked against the registry.
 */
import { createHash } from "node:crypto";
import { BadPayloadError, type WebhookProvider } from "./types.ts";
import { hostOf, jsonBody, need, obj, queryTokenMatches } from "./util.ts";

/** Deliveries without an id dedupe on their content within a 5-minute bucket. */
const BUCKET_MS = 5 * 60 * 1000;

export const quay: WebhookProvider = {
  name: "quay",
  verify: (req, secret) => queryTokenMatches(req, secret),
  parse(req) {
    const b = jsonBody(req);
    const repository = need(b.repository, "repository").toLowerCase();
    const registry = hostOf(need(b.docker_url, "docker_url").split("/")[0]);
    const raw = b.updated_tags;
    const tags = Array.isArray(raw) ? raw : obj(raw) ? Object.keys(raw as object) : undefined;
    if (!tags) throw new BadPayloadError("updated_tags is missing");
    const bucket = Math.floor(Date.now() / BUCKET_MS);
    return tags
      .filter((t): t is string => typeof t === "string" && t.length > 0)
      .map((tag) => ({
        ...(registry ? { registry } : {}),
        repository,
        tag,
        eventTime: new Date().toISOString(),
        deliveryId: createHash("sha256").update(`${repository}:${tag}:${bucket}`).digest("hex"),
      }));
  },
};
