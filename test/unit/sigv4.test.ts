/**
 * SigV4 for `ferry jobs --aws`: the test verifier (test/helpers/sigv4-verify.ts, node:crypto from
 * the published algorithm) first accepts AWS's own published test-suite vectors, so it is right
 * independently of the signer; then requests signed by lib/cli/sigv4.ts pass it, and the same
 * requests with the path, query, body, a signed header or the secret changed fail it.
 */
import assert from "node:assert/strict";
import type { IncomingHttpHeaders } from "node:http";
import { it } from "node:test";
import { type AwsCredentials, executeApiRegion, executeApiSigner } from "../../lib/cli/sigv4.ts";
import { type Expected, verifySigV4 } from "../helpers/sigv4-verify.ts";

// AWS's SigV4 test suite (get-vanilla, get-vanilla-query-order-key-case): fixed key, scope and time.
const SUITE: Expected = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  region: "us-east-1",
  service: "service",
  now: new Date("2015-08-30T12:36:00Z"),
};
const suiteRequest = (target: string, signature: string) => ({
  method: "GET",
  target,
  body: Buffer.alloc(0),
  headers: {
    host: "example.amazonaws.com",
    "x-amz-date": "20150830T123600Z",
    authorization: `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=${signature}`,
  },
});

it("the verifier accepts AWS's published test-suite signatures and refuses them altered", () => {
  const vanilla = suiteRequest("/", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  const query = suiteRequest("/?Param2=value2&Param1=value1", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
  assert.deepEqual(verifySigV4(vanilla, SUITE), { ok: true });
  assert.deepEqual(verifySigV4(query, SUITE), { ok: true });
  assert.equal(verifySigV4({ ...vanilla, target: "/x" }, SUITE).ok, false);
  assert.equal(verifySigV4({ ...query, target: "/?Param2=value2&Param1=value9" }, SUITE).ok, false);
  assert.equal(verifySigV4(vanilla, { ...SUITE, secretAccessKey: "wrong" }).ok, false);
  assert.equal(verifySigV4(vanilla, { ...SUITE, now: new Date("2015-08-30T13:00:00Z") }).ok, false, "24 minutes late");
});

const CREDS = { accessKeyId: "AKIAFERRYTEST", secretAccessKey: "ferry/test+secret", sessionToken: "FwoGZXIvYXdzEJr//session" };
const WANT: Expected = { ...CREDS, region: "eu-west-1", service: "execute-api" };

/** Signs with ferry's signer and returns what a server would receive. */
async function signed(method: string, url: string, body?: string, creds: AwsCredentials = CREDS) {
  const u = new URL(url);
  const sign = executeApiSigner("eu-west-1", async () => creds);
  const headers = await sign(method, u, body === undefined ? {} : { "content-type": "application/json" }, body);
  const received: IncomingHttpHeaders = { host: u.host };
  for (const [k, v] of Object.entries(headers)) received[k.toLowerCase()] = v;
  return { method, target: `${u.pathname}${u.search}`, headers: received, body: Buffer.from(body ?? "") };
}

it("ferry's signer: method, path, query, host, body hash and session token signed; any change refused", async () => {
  const get = await signed("GET", "http://127.0.0.1:4321/replications?limit=20&status=failed");
  assert.deepEqual(verifySigV4(get, WANT), { ok: true });
  assert.equal(get.headers["x-amz-security-token"], CREDS.sessionToken);
  const post = await signed("POST", "https://abc123.execute-api.eu-west-1.amazonaws.com/replications/j%2F1/fail", '{"reason":"x"}');
  assert.deepEqual(verifySigV4(post, WANT), { ok: true });

  const refused = [
    { ...get, method: "POST" },
    { ...get, target: "/replications?limit=21&status=failed" },
    { ...get, target: "/replications/x?limit=20&status=failed" },
    { ...get, headers: { ...get.headers, host: "127.0.0.1:4322" } },
    { ...get, headers: { ...get.headers, "x-amz-security-token": "another" } },
    { ...post, body: Buffer.from('{"reason":"y"}') },
    { ...post, headers: { ...post.headers, "content-type": "text/plain" } },
  ];
  for (const r of refused) assert.equal(verifySigV4(r, WANT).ok, false, JSON.stringify({ method: r.method, target: r.target }));
  assert.equal(verifySigV4(get, { ...WANT, region: "us-east-1" }).ok, false);
  assert.equal(verifySigV4(await signed("GET", "http://127.0.0.1:4321/replications", undefined, { ...CREDS, secretAccessKey: "wrong" }), WANT).ok, false);
  const { sessionToken: _, ...noToken } = CREDS;
  assert.deepEqual(verifySigV4(await signed("GET", "http://127.0.0.1:4321/replications", undefined, noToken), { ...WANT, sessionToken: undefined }), {
    ok: true,
  });
});

it("no credentials is a CREDENTIALS error, before any request", async () => {
  const sign = executeApiSigner("eu-west-1", async () => {
    throw new Error("Could not load credentials from any providers");
  });
  await assert.rejects(sign("GET", new URL("http://127.0.0.1:1/replications"), {}), { code: "CREDENTIALS" });
});

it("the region of an API Gateway host", () => {
  const table: Array<[string, string | undefined]> = [
    ["abc123defg.execute-api.eu-west-1.amazonaws.com", "eu-west-1"],
    ["abc123defg.execute-api.us-gov-west-1.amazonaws.com", "us-gov-west-1"],
    ["abc123defg.execute-api.cn-north-1.amazonaws.com.cn", "cn-north-1"],
    ["ABC123DEFG.EXECUTE-API.AP-SOUTHEAST-2.AMAZONAWS.COM", "ap-southeast-2"],
    ["api.example.com", undefined],
    ["127.0.0.1", undefined],
    ["abc.execute-api.eu-west-1.amazonaws.com.evil.example", undefined],
  ];
  for (const [host, region] of table) assert.equal(executeApiRegion(host), region, host);
});
