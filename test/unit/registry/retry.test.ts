import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RegistryError } from "../../../lib/errors.ts";
import { OCI_INDEX } from "../../../lib/oci/media-types.ts";
import { rejectsWithCode, rejectsWithRegistryError } from "../../helpers/assert.ts";
import { fakeHarness } from "../../helpers/fake-setup.ts";

const h = fakeHarness();
const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }));

/** A hook that answers the first `n` manifest requests with `answer`, then lets the fake serve. */
function failFirst(n: number, answer: (res: import("node:http").ServerResponse) => void) {
  let left = n;
  return (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => {
    if (!req.url?.includes("/manifests/") || left <= 0) return false;
    left--;
    answer(res);
    return true;
  };
}

describe("429 and Retry-After (matrix case 17)", () => {
  it("waits about Retry-After: 2 seconds, then succeeds", async () => {
    const { fake, client } = await h.setup({
      hook: failFirst(1, (res) => {
        res.writeHead(429, { "retry-after": "2", "content-type": "application/json" });
        res.end(JSON.stringify({ errors: [{ code: "TOOMANYREQUESTS", message: "slow down" }] }));
      }),
    });
    fake.putManifest("r", "t", index, OCI_INDEX);
    const t0 = Date.now();
    const m = await client.manifestGet("r", "t");
    const waited = Date.now() - t0;
    assert.equal(m.mediaType, OCI_INDEX);
    assert.ok(waited >= 1900, `waited ${waited} ms`);
    assert.equal(fake.count("GET", /manifests/), 2);
  });

  it("honours Retry-After as an HTTP-date", async () => {
    const { fake, client } = await h.setup({
      hook: failFirst(1, (res) => {
        res.writeHead(503, { "retry-after": new Date(Date.now() + 2000).toUTCString() });
        res.end("busy");
      }),
    });
    fake.putManifest("r", "t", index, OCI_INDEX);
    const t0 = Date.now();
    await client.manifestGet("r", "t");
    // HTTP-dates have 1 s resolution: the wait is between 1 and 2 s
    assert.ok(Date.now() - t0 >= 900);
    assert.equal(fake.count("GET", /manifests/), 2);
  });

  it("does not wait past the deadline: fails at once, retryable, with the server's wait and rate limit", async () => {
    const { fake, client } = await h.setup({
      hook: failFirst(5, (res) => {
        res.writeHead(429, { "retry-after": "30", "ratelimit-limit": "100;w=21600", "ratelimit-remaining": "0" });
        res.end("You have reached your pull rate limit. You may increase the limit by authenticating and upgrading");
      }),
    });
    const e = await rejectsWithRegistryError(client.manifestGet("r", "t", { deadline: Date.now() + 1000 }), 429);
    assert.equal(e.retryable, true);
    assert.equal(e.retryAfterMs, 30_000);
    assert.deepEqual(e.rateLimit, { limit: 100, remaining: 0 });
    assert.equal(fake.count("GET", /manifests/), 1);
  });

  it("retries 5xx with backoff, up to the attempt limit", async () => {
    const { fake, client } = await h.setup(
      {
        hook: failFirst(100, (res) => {
          res.statusCode = 502;
          res.end("<html>bad gateway</html>");
        }),
      },
      { retry: { maxAttempts: 3, baseDelayMs: 5 } },
    );
    const e = await rejectsWithRegistryError(client.manifestGet("r", "t"), 502);
    assert.match(e.message, /bad gateway/);
    assert.equal(fake.count("GET", /manifests/), 3);
  });

  it("retries a cut connection on a replayable request", async () => {
    const { fake, client } = await h.setup({ hook: failFirst(1, (res) => res.destroy()) });
    fake.putManifest("r", "t", index, OCI_INDEX);
    assert.equal((await client.manifestGet("r", "t")).mediaType, OCI_INDEX);
  });

  it("never retries a streamed upload body at the request level", async () => {
    const { fake, client } = await h.setup(
      {
        hook: (req, res) => {
          if (req.method === "PUT") {
            res.statusCode = 503;
            res.end();
            return true;
          }
          return false;
        },
      },
      { retry: { maxAttempts: 2, baseDelayMs: 5 } },
    );
    const data = Buffer.from("x");
    const { Readable } = await import("node:stream");
    const { digestOf } = await import("../../../lib/oci/digest.ts");
    await rejectsWithRegistryError(
      client.blobPut("r", { digest: digestOf(data), size: 1 }, async () => Readable.from([data])),
      503,
    );
    // two upload attempts (the unit retry), each a single PUT
    assert.equal(fake.count("PUT"), 2);
    assert.equal(fake.count("POST"), 2);
  });
});

describe("error bodies (matrix case 18)", () => {
  it("keeps non-JSON bodies readable and bodiless HEAD errors typed", async () => {
    const { client } = await h.setup({
      hook: (req, res) => {
        if (req.method === "HEAD") {
          res.statusCode = 403;
          res.end();
          return true;
        }
        if (req.url?.includes("/manifests/")) {
          res.writeHead(400, { "content-type": "text/html" });
          res.end("<html><body><h1>400 Bad Request</h1>proxy says no</body></html>");
          return true;
        }
        return false;
      },
    });
    const headErr = await rejectsWithRegistryError(client.blobHead("r", `sha256:${"a".repeat(64)}`), 403);
    assert.deepEqual(headErr.ociCodes, []);
    const getErr = await rejectsWithRegistryError(client.manifestGet("r", "t"), 400);
    assert.match(getErr.message, /proxy says no/);
    assert.ok(!getErr.message.includes("<h1>"));
  });

  it("carries OCI codes and says which side failed", async () => {
    const { client } = await h.setup({}, { side: "source" });
    const e = await rejectsWithCode(client.manifestGet("missing/repo", "t"), "REGISTRY");
    assert.ok(e instanceof RegistryError && e.hasCode("MANIFEST_UNKNOWN"));
    assert.equal(e.side, "source");
    assert.equal(e.retryable, false);
  });
});
