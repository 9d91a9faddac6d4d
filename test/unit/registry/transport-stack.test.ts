/**
 * The client's transport as stacked (client.ts), against the fake registry: token fetches wait by
 * the same retry policy as registry requests, a 401 is answered once per request across its
 * retries, and the rate budget is spent once per request, not per redirect hop.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { buffer } from "node:stream/consumers";
import { describe, it } from "node:test";
import { RegistryError } from "../../../lib/errors.ts";
import { digestOf } from "../../../lib/oci/digest.ts";
import { fakeHarness } from "../../helpers/fake-setup.ts";

const h = fakeHarness();
const tokenAsks = (reqs: Array<{ url: string }>) => reqs.filter((r) => r.url.startsWith("/token")).length;

describe("one retry policy", () => {
  it("a token endpoint's 429 is waited out by its Retry-After, as a registry's is", async () => {
    let refused = 0;
    const { fake, client } = await h.setup({
      auth: { kind: "bearer" },
      hook: (req, res) => {
        if (!req.url?.startsWith("/token") || refused++ > 0) return false;
        res.writeHead(429, { "retry-after": "1" });
        res.end("slow down");
        return true;
      },
    });
    const d = fake.putBlob("app", Buffer.from("abc"));
    const t0 = Date.now();
    assert.equal(await client.blobHead("app", d), 3);
    assert.ok(Date.now() - t0 >= 900, `waited ${Date.now() - t0} ms`);
    assert.equal(tokenAsks(fake.requests), 2);
  });

  it("a token endpoint's final answer (404) is not retried", async () => {
    const { fake, client } = await h.setup({ auth: { kind: "bearer", token: () => ({ status: 404, body: {} }) } });
    await assert.rejects(client.blobHead("app", `sha256:${"a".repeat(64)}`), (e: unknown) => (e as { code?: string }).code === "AUTH");
    assert.equal(tokenAsks(fake.requests), 1);
  });
});

describe("auth inside retry", () => {
  it("answers a 401 once per request, even when a retry follows the refresh", async () => {
    const answers = [401, 503, 401];
    const { fake, client } = await h.setup({
      auth: { kind: "bearer" },
      hook: (req, res) => {
        // after the fake's own challenge: refuse the token, be busy, refuse again
        if (!req.headers.authorization || !req.url?.includes("/blobs/")) return false;
        const status = answers.shift() ?? 200;
        if (status === 200) return false;
        res.writeHead(status, status === 401 ? { "www-authenticate": `Bearer realm="${fake.url}/token",service="fake"` } : {});
        res.end();
        return true;
      },
    });
    const d = fake.putBlob("app", Buffer.from("abc"));
    await assert.rejects(client.blobHead("app", d), (e: unknown) => e instanceof RegistryError && e.status === 401);
    assert.equal(fake.count("HEAD"), 4, "challenge, refused, busy, refused: no second refresh");
    assert.equal(tokenAsks(fake.requests), 2);
  });
});

describe("rate budget outside redirects", () => {
  it("spends one token for a blob GET that is redirected, and none on the redirect target", async () => {
    const data = randomBytes(10_000);
    const cdn = createServer((_req, res) => res.end(data));
    await new Promise<void>((r) => cdn.listen(0, "127.0.0.1", r));
    h.onClose(async () => {
      cdn.closeAllConnections();
      await new Promise<void>((r) => cdn.close(() => r()));
    });
    let taken = 0;
    const budget = {
      take: async () => {
        taken++;
      },
    };
    const { client } = await h.setup(
      {
        hook: (req, res) => {
          if (req.method !== "GET" || !req.url?.includes("/blobs/")) return false;
          res.writeHead(307, { location: `http://127.0.0.1:${(cdn.address() as AddressInfo).port}/b` });
          res.end();
          return true;
        },
      },
      { rateBudget: budget },
    );
    assert.deepEqual(await buffer(await client.blobGet("app", { digest: digestOf(data), size: data.byteLength })), data);
    assert.equal(taken, 1);
  });
});
