import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isLoopbackHost, isPrivateHost, mayFollow } from "../../../lib/registry/address.ts";
import { orderScopes, parseScope } from "../../../lib/registry/auth.ts";
import { parseChallenges, pickChallenge } from "../../../lib/registry/challenge.ts";
import { redactUrl } from "../../../lib/registry/redact.ts";
import { backoffMs, DEFAULT_RETRY, parseRetryAfter } from "../../../lib/registry/retry.ts";

describe("challenge parsing (matrix case 1)", () => {
  it("parses Negotiate plus Bearer on one line and picks Bearer", () => {
    const cs = parseChallenges('Negotiate, Bearer realm="https://auth.example.com/token",service="registry.example.com"');
    assert.deepEqual(
      cs.map((c) => c.scheme),
      ["negotiate", "bearer"],
    );
    assert.equal(pickChallenge(cs)?.params.realm, "https://auth.example.com/token");
  });
  it("handles quoted realms with commas and escapes, any-case scheme, extra params", () => {
    const [c] = parseChallenges('BEARER realm="https://a.example/t?x=1,2",service="s \\"q\\"",error="insufficient_scope",scope="repository:a/b:pull,push"');
    assert.equal(c?.scheme, "bearer");
    assert.equal(c?.params.realm, "https://a.example/t?x=1,2");
    assert.equal(c?.params.service, 's "q"');
    assert.equal(c?.params.error, "insufficient_scope");
    assert.equal(c?.params.scope, "repository:a/b:pull,push");
  });
  it("parses several header lines, unquoted params, no service, token68", () => {
    const cs = parseChallenges(["Negotiate YIIB3gYJKoZIhvcSAQICAQBuggHN==", "Basic realm=registry", 'Bearer realm="/token"']);
    assert.deepEqual(
      cs.map((c) => c.scheme),
      ["negotiate", "basic", "bearer"],
    );
    assert.equal(cs[0]?.params[""], "YIIB3gYJKoZIhvcSAQICAQBuggHN==");
    assert.equal(cs[1]?.params.realm, "registry");
    assert.equal(cs[2]?.params.service, undefined);
    assert.equal(pickChallenge(cs)?.scheme, "bearer");
    assert.equal(pickChallenge(parseChallenges("Negotiate abc")), undefined);
  });
  it("parses ECR's Basic challenge", () => {
    const [c] = parseChallenges('Basic realm="https://123.dkr.ecr.us-east-1.amazonaws.com/",service="ecr.amazonaws.com"');
    assert.equal(c?.scheme, "basic");
    assert.equal(c?.params.service, "ecr.amazonaws.com");
  });
});

describe("scopes", () => {
  it("keeps host:port inside names and orders push first", () => {
    const s = parseScope("repository:localhost:5000/a/b:pull,push");
    assert.equal(s.name, "localhost:5000/a/b");
    assert.deepEqual([...s.actions], ["pull", "push"]);
    assert.deepEqual(orderScopes(["repository:src:pull", "repository:dst:pull,push", "repository:src:pull"]), [
      "repository:dst:pull,push",
      "repository:src:pull",
    ]);
  });
});

describe("Retry-After and backoff", () => {
  it("parses seconds and HTTP-dates", () => {
    assert.equal(parseRetryAfter("2"), 2000);
    const now = Date.parse("2026-11-22T10:00:00Z");
    assert.equal(parseRetryAfter("Sun, 22 Nov 2026 10:00:03 GMT", now), 3000);
    assert.equal(parseRetryAfter("garbage"), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });
  it("backs off 3× per attempt with bounded jitter", () => {
    assert.equal(
      backoffMs(1, DEFAULT_RETRY, () => 0.5),
      200,
    );
    assert.equal(
      backoffMs(2, DEFAULT_RETRY, () => 0.5),
      600,
    );
    assert.ok(backoffMs(3, DEFAULT_RETRY, () => 1) <= 1800 * 1.1);
  });
});

describe("address rules", () => {
  it("classifies loopback and private literals, and refuses metadata redirects", () => {
    assert.ok(isLoopbackHost("127.0.0.1:5000") && isLoopbackHost("localhost") && isLoopbackHost("[::1]:5000"));
    assert.ok(!isLoopbackHost("10.0.0.1"));
    assert.ok(isPrivateHost("10.1.2.3") && isPrivateHost("192.168.1.1:80") && !isPrivateHost("8.8.8.8"));
    assert.ok(!mayFollow("ghcr.io", "169.254.169.254"));
    assert.ok(!mayFollow("ghcr.io", "10.0.0.5:9000"));
    assert.ok(mayFollow("ghcr.io", "pkg-containers.githubusercontent.com"));
    assert.ok(mayFollow("127.0.0.1:5000", "127.0.0.1:6000"));
  });
  it("redacts secrets from URLs but keeps protocol parameters", () => {
    const r = redactUrl("https://u:p@s3.example/b/k?X-Amz-Signature=abc&digest=sha256:1&_state=zzz");
    assert.ok(!r.includes("abc") && !r.includes("zzz") && !r.includes("u:p"));
    assert.ok(r.includes("digest=sha256%3A1") || r.includes("digest=sha256:1"));
  });
});
