/**
 * JFrog Artifactory (domain `docker`, event `pushed`). `X-JFrog-Event-Auth` carries the secret in
 * plain text, or with signing enabled hex(HMAC-SHA256(secret, raw body)). No registry host in the
 * payload: the configured `registry`, else the host of `jpd_origin` with `repo_key` as the first
 * path segment (the repository-path access method).
 */
import { createHash } from "node:crypto";
import { safeEqual } from "./compare.ts";
import { BadPayloadError, type WebhookProvider } from "./types.ts";
import { digestOf, eventTime, hmacMatches, hostOf, jsonBody, need, obj, str } from "./util.ts";

export const artifactory: WebhookProvider = {
  name: "artifactory",
  verify(req, secret) {
    const got = req.headers["x-jfrog-event-auth"];
    if (!secret || !got) return false;
    return safeEqual(got, secret) || hmacMatches("sha256", secret, req.body, got);
  },
  parse(req) {
    const b = jsonBody(req);
    if (b.domain !== "docker" || b.event_type !== "pushed") return [];
    const d = obj(b.data);
    if (!d) throw new BadPayloadError("data is missing");
    const tag = str(d.tag);
    if (!tag) return [];
    const image = need(d.image_name, "data.image_name");
    const repoKey = str(d.repo_key);
    const digest = digestOf(d.sha256, true);
    const registry = hostOf(b.jpd_origin);
    const list = d.name === "list.manifest.json";
    return [
      {
        ...(registry ? { registry } : {}),
        repository: repoKey ? `${repoKey}/${image}` : image,
        tag,
        ...(digest ? { digest } : {}),
        ...(list ? { mediaType: "application/vnd.docker.distribution.manifest.list.v2+json" } : {}),
        eventTime: eventTime(undefined),
        deliveryId: createHash("sha256").update(`${repoKey}/${image}:${tag}@${digest}`).digest("hex"),
      },
    ];
  },
};
