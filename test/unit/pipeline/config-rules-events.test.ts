import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfigText } from "../../../lib/config.ts";
import { FerryError } from "../../../lib/errors.ts";
import { distribution } from "../../../lib/events/distribution.ts";
import { BadPayloadError } from "../../../lib/events/types.ts";
import { globToRegExp, matchRules, renderDestination } from "../../../lib/rules/match.ts";

const invalid = (yaml: string, path: RegExp) =>
  assert.throws(
    () => parseConfigText(yaml, "ferry.yml"),
    (e: unknown) => e instanceof FerryError && e.code === "INVALID_CONFIG" && path.test(e.message),
    yaml,
  );

describe("config", () => {
  it("parses the documented shape with defaults", () => {
    const c = parseConfigText(`version: 1
registries: [{ host: "127.0.0.1:5001", plainHttp: true, username: alice, password: secret }]
webhooks: [{ provider: distribution, id: local, registry: "127.0.0.1:5001", secret: s3cret }]
rules: [{ name: mirror, source: "127.0.0.1:5001/**", destinations: ["127.0.0.1:5002/{repo}"], platforms: [linux/amd64, linux/arm64], merge: false }]
api: { token: local-token }
`);
    assert.equal(c.rules[0]?.name, "mirror");
    assert.equal(c.pipeline.maxReceiveCount, 5, "AWS's advice for Lambda consumers");
    assert.equal(c.pipeline.visibilityTimeout, 30);
    assert.equal(c.pipeline.stuckAfter, undefined, "derived: 2 × visibility locally, from the queues on AWS");
    assert.deepEqual([c.pipeline.maxRedrives, c.pipeline.reconcileEvery, c.pipeline.tagLease, c.pipeline.tagWait], [3, 30, 30, 900]);
    assert.deepEqual(c.transfer, { stallTimeout: 30, speedLimit: 1024, speedTime: 30 });
  });
  it("names the path of a bad field", () => {
    invalid("version: 2", /^ferry\.yml: version/);
    invalid("version: 1\nrules: [{ name: r, source: a/**, destinations: [nohost] }]", /rules\[0\]\.destinations\[0\]: want host/);
    invalid("version: 1\nrules: [{ name: r, source: a/**, destinations: [h/x], platforms: [linux] }]", /rules\[0\]\.platforms\[0\]: want os\/arch/);
    invalid("version: 1\nwebhooks: [{ provider: distribution, id: 'bad id' }]", /webhooks\[0\]\.id/);
    invalid(
      "version: 1\nrules: [{ name: a, source: x/y, destinations: [h/x] }, { name: a, source: x/y, destinations: [h/x] }]",
      /rules\[1\]\.name: duplicate rule name a/,
    );
    invalid("version: 1\nbogus: true", /Unrecognized key/);
    invalid("version: 1\n  rules: [", /not valid YAML/);
  });
});

describe("rules", () => {
  const rules = parseConfigText(`version: 1
rules:
  - { name: team, source: "reg.example.com/team/**", destinations: ["mirror.example.com/{repo}", "backup.example.com/x/{name}:{tag}-bak"] }
  - { name: one, source: ["reg.example.com/solo/*", "other.example.com/*"], destinations: ["m.example.com/{name}"] }
`).rules;
  it("compiles globs: * within a segment, ** across segments", () => {
    assert.ok(globToRegExp("h/team/**").test("h/team/a/b/c"));
    assert.ok(globToRegExp("h/team/*").test("h/team/app"));
    assert.ok(!globToRegExp("h/team/*").test("h/team/a/b"));
    assert.ok(!globToRegExp("h.example.com/*").test("hxexample.com/a"), "dots are literal");
  });
  it("matches with the host and renders destinations", () => {
    const m = matchRules(rules, { registry: "reg.example.com", repository: "team/web/api", tag: "v1" });
    assert.deepEqual(
      m.map((x) => x.rule.name),
      ["team"],
    );
    assert.deepEqual(m[0]?.destinations, ["mirror.example.com/team/web/api", "backup.example.com/x/api:v1-bak"]);
    assert.deepEqual(matchRules(rules, { registry: "other.example.com", repository: "tool" })[0]?.destinations, ["m.example.com/tool"]);
    assert.deepEqual(matchRules(rules, { registry: "evil.example.com", repository: "team/web" }), [], "another host never matches");
    assert.equal(renderDestination("h/{name}", { registry: "r", repository: "a/b/c" }), "h/c");
  });
});

const envelope = (events: unknown[]) => ({ headers: { authorization: "Bearer s3cret" }, query: {}, body: Buffer.from(JSON.stringify({ events })) });
const D = `sha256:${"c".repeat(64)}`;

describe("distribution notifications", () => {
  it("verifies the configured Authorization value, Bearer or bare", () => {
    assert.ok(distribution.verify(envelope([]), "s3cret"));
    assert.ok(distribution.verify({ ...envelope([]), headers: { authorization: "s3cret" } }, "s3cret"));
    assert.ok(!distribution.verify({ ...envelope([]), headers: { authorization: "Bearer nope" } }, "s3cret"));
    assert.ok(!distribution.verify({ ...envelope([]), headers: {} }, "s3cret"));
    assert.ok(!distribution.verify(envelope([]), undefined), "no secret configured: nothing verifies");
  });
  it("keeps tagged manifest pushes; drops blob pushes, tagless children, pulls and deletes", () => {
    const events = [
      {
        id: "1",
        timestamp: "2026-11-22T10:00:00Z",
        action: "push",
        target: { mediaType: "application/vnd.oci.image.index.v1+json", digest: D, repository: "team/app", tag: "v1" },
        request: { host: "reg:5000" },
      },
      { id: "2", action: "push", target: { mediaType: "application/octet-stream", digest: D, repository: "team/app" } },
      { id: "3", action: "push", target: { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: D, repository: "team/app" } },
      { id: "4", action: "pull", target: { mediaType: "application/vnd.oci.image.index.v1+json", digest: D, repository: "team/app", tag: "v1" } },
      { id: "5", action: "delete", target: { digest: D, repository: "team/app" } },
    ];
    const out = distribution.parse(envelope(events));
    assert.deepEqual(out, [
      {
        registry: "reg:5000",
        repository: "team/app",
        tag: "v1",
        digest: D,
        mediaType: "application/vnd.oci.image.index.v1+json",
        eventTime: "2026-11-22T10:00:00Z",
        deliveryId: "1",
      },
    ]);
  });
  it("rejects malformed bodies with a reason", () => {
    for (const body of ["not json", "[]", '{"events": 3}', '{"events": [1]}', '{"events": [{"action": "push", "target": {}}]}']) {
      assert.throws(() => distribution.parse({ headers: {}, query: {}, body: Buffer.from(body) }), BadPayloadError, body);
    }
  });
});
