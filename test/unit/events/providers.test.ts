import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { verifyOidc } from "../../../lib/events/gar.ts";
import { PROVIDERS } from "../../../lib/events/index.ts";
import { hmacMatches } from "../../../lib/events/util.ts";
import { GAR_AUDIENCE, GAR_SA, garClaims, type Image, NOT_SENT, oidc, routeOf, SAMPLE_PROVIDERS, sample } from "../../helpers/webhook-samples.ts";

const SECRET = "It's a Secret to Everybody";
const DIGEST = `sha256:${"a1".repeat(32)}`;
const imageFor = (p: string): Image => ({
  registry:
    p === "dockerhub" ? "docker.io" : p === "ecr" ? "123456789012.dkr.ecr.us-west-2.amazonaws.com" : p === "github" ? "ghcr.io" : "registry.example.com:5000",
  repository: "team/api",
  tag: "v1.2.3",
  digest: DIGEST,
  mediaType: "application/vnd.oci.image.index.v1+json",
});
// What each sender tells: no digest (Docker Hub, Quay, Nexus, Gitea tag pushes), no host (Nexus).
const NO_DIGEST = new Set(["dockerhub", "quay", "nexus", "gitea"]);
const NO_HOST = new Set(["nexus"]);
const opts = { audience: GAR_AUDIENCE, serviceAccount: GAR_SA, jwks: oidc.jwks };

describe("GitHub's documented test vector", () => {
  it("verifies sha256=757107ea… for 'Hello, World!' with \"It's a Secret to Everybody\"", () => {
    const body = Buffer.from("Hello, World!");
    assert.ok(hmacMatches("sha256", SECRET, body, "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "sha256="));
    assert.ok(!hmacMatches("sha256", SECRET, body, "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18", "sha256="));
    assert.ok(
      !hmacMatches("sha256", SECRET, Buffer.from("Hello, World! "), "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "sha256="),
      "the exact bytes",
    );
  });
});

for (const p of SAMPLE_PROVIDERS) {
  const provider = PROVIDERS[routeOf(p)];
  describe(`webhook provider ${p}`, () => {
    it("verifies a good signature and turns a push into one normalized request", () => {
      assert.ok(provider);
      const s = sample(p, "push", imageFor(p), SECRET);
      assert.equal(provider.verify(s.req, SECRET, opts), true);
      const events = provider.parse(s.req);
      assert.equal(events.length, 1, JSON.stringify(events));
      const e = events[0];
      const img = imageFor(p);
      assert.equal(e?.repository, p === "dockerhub" ? "team/api" : img.repository);
      assert.equal(e?.tag, img.tag);
      assert.equal(e?.digest, NO_DIGEST.has(p) ? undefined : img.digest);
      assert.equal(e?.registry, NO_HOST.has(p) ? undefined : img.registry);
      assert.ok(e?.deliveryId && e.eventTime && !Number.isNaN(Date.parse(e.eventTime)));
    });
    it("rejects a bad signature or token, and a missing secret", () => {
      const s = sample(p, "push", imageFor(p), SECRET);
      assert.equal(provider?.verify(s.forged, SECRET, opts), false);
      if (p !== "gar") assert.equal(provider?.verify(s.req, undefined, opts), false);
    });
    for (const kind of ["ping", "child", "delete"] as const) {
      const why = NOT_SENT[p]?.[kind];
      if (why) continue; // the sender has no such event (NOT_SENT says why)
      it(`acknowledges a ${kind} event with no request`, () => {
        const s = sample(p, kind, imageFor(p), SECRET);
        assert.deepEqual(provider?.parse(s.req), []);
      });
    }
  });
}

describe("Harbor and Gitea: a 'tag' that is a digest is a digest", () => {
  it("drops Harbor's untagged push whose tag equals the digest", () => {
    const s = sample("harbor", "child", imageFor("harbor"), SECRET);
    assert.deepEqual(PROVIDERS.harbor?.parse(s.req), []);
  });
});

describe("Pub/Sub OIDC", () => {
  const ok = (claims: Record<string, unknown>) => verifyOidc(oidc.token(garClaims(claims)), opts);
  it("checks issuer, audience, service account, email_verified and expiry", () => {
    assert.equal(ok({}), true);
    assert.equal(ok({ iss: "accounts.google.com" }), true);
    assert.equal(ok({ iss: "https://evil.example.com" }), false);
    assert.equal(ok({ aud: "https://other" }), false);
    assert.equal(ok({ email: "someone@else.iam.gserviceaccount.com" }), false);
    assert.equal(ok({ email_verified: false }), false);
    assert.equal(ok({ exp: Math.floor(Date.now() / 1000) - 10 }), false);
    assert.equal(verifyOidc(oidc.token(garClaims(), oidc.other), opts), false, "signed by another key");
    assert.equal(verifyOidc("not.a.jwt", opts), false);
    assert.equal(verifyOidc(oidc.token(garClaims()), { ...opts, jwks: undefined }), false, "no keys configured: nothing verifies");
  });
});

describe("event times", () => {
  it("reads unix seconds, RFC 3339 and Nexus's +0000, and falls back to now for anything else", async () => {
    const { eventTime } = await import("../../../lib/events/util.ts");
    assert.equal(eventTime(1717000000), "2024-05-29T16:26:40.000Z");
    assert.equal(eventTime("2024-05-29T21:49:44.219+0000"), "2024-05-29T21:49:44.219Z");
    for (const bad of [8640000000000.001, -1, Number.NaN, "yesterday", null, {}]) {
      assert.ok(Math.abs(Date.parse(eventTime(bad)) - Date.now()) < 5000, String(bad));
    }
  });
});
