/**
 * Tag deletions parsed from distribution's notifications, on the exact events distribution 2.8.2
 * sent for `DELETE /v2/a/b/manifests/<digest>` with two tags on the manifest (captured from the
 * Debian docker-registry): one event for the digest, one per tag. Only the tags count.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PROVIDERS } from "../../../lib/events/index.ts";
import { BadPayloadError, type WebhookRequest } from "../../../lib/events/types.ts";

const DIGEST = "sha256:eef5f33421b117ecd8b12b474ebc67d3b0ace5639ebf80625b56cae974eafbe0";
const request = { id: "ad9ae037-42d7-4f9c-9d6c-55b96a47f88c", addr: "127.0.0.1:43796", host: "127.0.0.1:33821", method: "DELETE", useragent: "node" };
const source = { addr: "vm:33821", instanceID: "1f9de51f-c63b-4cae-930b-55405196d75b" };
const captured = [
  { id: "a614", timestamp: "2026-11-30T23:41:02.711256066Z", action: "delete", target: { digest: DIGEST, repository: "a/b" }, request, actor: {}, source },
  { id: "34dd", timestamp: "2026-11-30T23:41:02.712322726Z", action: "delete", target: { repository: "a/b", tag: "v1" }, request, actor: {}, source },
  { id: "27ff", timestamp: "2026-11-30T23:41:02.713164359Z", action: "delete", target: { repository: "a/b", tag: "v2" }, request, actor: {}, source },
];
const req = (events: unknown): WebhookRequest => ({ headers: {}, query: {}, body: Buffer.from(JSON.stringify({ events })) });
const distribution = PROVIDERS.distribution;
if (!distribution?.parseDeletes) throw new Error("distribution parses deletes");
const parseDeletes = distribution.parseDeletes.bind(distribution);

describe("distribution: tag deletions", () => {
  it("a delete by digest gives one event per tag, with the registry from request.host; the digest's own event none", () => {
    assert.deepEqual(parseDeletes(req(captured)), [
      { registry: "127.0.0.1:33821", repository: "a/b", tag: "v1", eventTime: "2026-11-30T23:41:02.712322726Z", deliveryId: "34dd" },
      { registry: "127.0.0.1:33821", repository: "a/b", tag: "v2", eventTime: "2026-11-30T23:41:02.713164359Z", deliveryId: "27ff" },
    ]);
  });

  it("deletions never become pushes, and pushes never deletions", () => {
    assert.deepEqual(distribution.parse(req(captured)), []);
    const push = {
      ...captured[1],
      action: "push",
      target: { repository: "a/b", tag: "v1", digest: DIGEST, mediaType: "application/vnd.oci.image.manifest.v1+json" },
    };
    assert.equal(distribution.parse(req([push])).length, 1);
    assert.deepEqual(parseDeletes(req([push])), []);
  });

  it("a delete without a repository, or a body that is not the envelope, is a bad payload", () => {
    assert.throws(() => parseDeletes(req([{ action: "delete", target: { tag: "v1" } }])), BadPayloadError);
    assert.throws(() => parseDeletes(req([7])), BadPayloadError);
    assert.throws(() => parseDeletes({ headers: {}, query: {}, body: Buffer.from("{") }), BadPayloadError);
    assert.throws(() => parseDeletes({ headers: {}, query: {}, body: Buffer.from("{}") }), BadPayloadError);
  });

  it("an event without an id or a valid time still gets a delivery id and the receipt time", () => {
    const [e] = parseDeletes(req([{ action: "delete", timestamp: "nope", target: { repository: "a/b", tag: "v1" } }]));
    assert.ok(e?.deliveryId.startsWith("delete:a/b:v1@"));
    assert.ok(!Number.isNaN(Date.parse(e?.eventTime ?? "")));
    assert.equal(e?.registry, undefined);
  });
});
