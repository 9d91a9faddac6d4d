import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { buffer } from "node:stream/consumers";
import { describe, it } from "node:test";
import { digestOf } from "../../../lib/oci/digest.ts";
import { staticCredentials } from "../../../lib/registry/credentials.ts";
import { send } from "../../fakes/registry.ts";
import { rejectsWithCode } from "../../helpers/assert.ts";
import { fakeHarness } from "../../helpers/fake-setup.ts";

const h = fakeHarness();

/** A second host (a CDN or S3 stand-in) that logs what it receives. */
async function startCdn(handler: (url: string, headers: IncomingHttpHeaders, res: import("node:http").ServerResponse) => void) {
  const seen: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? "", headers: req.headers });
    handler(req.url ?? "", req.headers, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  h.onClose(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { seen, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe("blob downloads (matrix cases 10, 11)", () => {
  it("follows a 307 to another host without sending Authorization there (case 10)", async () => {
    const data = randomBytes(100_000);
    const digest = digestOf(data);
    const cdn = await startCdn((_u, _h, res) => res.end(data));
    const { fake, client } = await h.setup(
      {
        auth: { kind: "basic", username: "u", password: "p" },
        hook: (req, res) => {
          if (req.method !== "GET" || !req.url?.includes("/blobs/sha256")) return false;
          if (!req.headers.authorization) return false; // let the fake challenge
          res.statusCode = 307;
          res.setHeader("location", `${cdn.origin}/bucket/blob?X-Amz-Signature=secret`);
          res.end("redirect body that must be drained");
          return true;
        },
      },
      { credentials: staticCredentials("u", "p") },
    );
    const got = await buffer(await client.blobGet("r", { digest, size: data.byteLength }));
    assert.deepEqual(got, data);
    assert.equal(cdn.seen.length, 1);
    assert.equal(cdn.seen[0]?.headers.authorization, undefined, "the redirect host never sees Authorization");
    assert.ok(fake.requests.some((r) => r.url.includes("/blobs/") && r.headers.authorization?.startsWith("Basic ")));
  });

  it("parses an S3 XML error after a redirect", async () => {
    const cdn = await startCdn((_u, _h, res) => {
      res.statusCode = 400;
      res.setHeader("content-type", "application/xml");
      res.end('<?xml version="1.0"?><Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>');
    });
    const { client } = await h.setup({
      hook: (req, res) => {
        if (!req.url?.includes("/blobs/sha256")) return false;
        res.statusCode = 302;
        res.setHeader("location", `${cdn.origin}/b`);
        res.end();
        return true;
      },
    });
    const e = await rejectsWithCode(client.blobGet("r", { digest: `sha256:${"a".repeat(64)}`, size: 1 }), "REGISTRY");
    assert.ok((e as unknown as { hasCode(c: string): boolean }).hasCode("InvalidArgument"));
  });

  it("refuses a redirect to a link-local (metadata) address", async () => {
    const { client } = await h.setup({
      hook: (req, res) => {
        if (!req.url?.includes("/blobs/sha256")) return false;
        res.statusCode = 307;
        res.setHeader("location", "http://169.254.169.254/latest/meta-data/");
        res.end();
        return true;
      },
    });
    await rejectsWithCode(client.blobGet("r", { digest: `sha256:${"a".repeat(64)}`, size: 1 }), "REDIRECT_REFUSED");
  });

  for (const honourRange of [true, false]) {
    it(`resumes a download cut at byte N from the registry URL (${honourRange ? "206" : "server ignores Range: 200"}) (case 11)`, async () => {
      const data = randomBytes(300_000);
      const digest = digestOf(data);
      const cutAt = 123_457;
      const ranges: Array<string | undefined> = [];
      const cdn = await startCdn((_u, headers, res) => {
        ranges.push(headers.range);
        if (ranges.length === 1) {
          // first attempt: announce everything, send N bytes, then cut the connection
          res.writeHead(200, { "content-length": String(data.byteLength) });
          res.write(data.subarray(0, cutAt), () => res.destroy());
          return;
        }
        const m = /^bytes=(\d+)-$/.exec(headers.range ?? "");
        if (m && honourRange) {
          const start = Number(m[1]);
          res.writeHead(206, {
            "content-range": `bytes ${start}-${data.byteLength - 1}/${data.byteLength}`,
            "content-length": String(data.byteLength - start),
          });
          res.end(data.subarray(start));
        } else {
          res.writeHead(200, { "content-length": String(data.byteLength) });
          res.end(data);
        }
      });
      const { fake, client } = await h.setup({
        hook: (req, res) => {
          if (!req.url?.includes("/blobs/sha256")) return false;
          res.statusCode = 307;
          res.setHeader("location", `${cdn.origin}/presigned?sig=${fake.count("GET", /\/blobs\//)}`);
          res.end();
          return true;
        },
      });
      const got = await buffer(await client.blobGet("r", { digest, size: data.byteLength }));
      assert.deepEqual(got, data, "bytes equal after resume");
      assert.deepEqual(ranges, [undefined, `bytes=${cutAt}-`], "resumed from exactly the cut offset");
      assert.equal(fake.count("GET", /\/blobs\//), 2, "the resume went back to the registry URL, not the old presigned URL");
    });
  }

  it("fails with DIGEST_MISMATCH when the server sends corrupt bytes, and SIZE_MISMATCH on a wrong length", async () => {
    const data = randomBytes(5000);
    const { fake, client } = await h.setup();
    const digest = fake.putBlob("r", data);
    data[10] = (data[10] ?? 0) ^ 0xff; // the registry's copy is now corrupt
    fake.blobs.set(digest, data);
    const s = await client.blobGet("r", { digest, size: data.byteLength });
    await rejectsWithCode(buffer(s), "DIGEST_MISMATCH");
    await rejectsWithCode(client.blobGet("r", { digest, size: 10 }), "SIZE_MISMATCH");
  });
});

describe("corrupt sources", () => {
  it("a corrupt blob never reaches the destination complete: the upload fails, nothing is committed", async () => {
    // A multiple of 64 KiB: the last chunk then fills the stream's buffer, so without holding it
    // back the consumer would take it before the digest check fails.
    const data = randomBytes(5 * 65536);
    const src = await h.setup({}, { side: "source" });
    const digest = src.fake.putBlob("r", data);
    const corrupt = Buffer.from(data);
    corrupt[data.byteLength - 1] = (corrupt[data.byteLength - 1] ?? 0) ^ 1; // the very last byte differs
    src.fake.blobs.set(digest, corrupt);
    const dst = await h.setup({}, { side: "destination" });
    const desc = { digest, size: data.byteLength };
    await rejectsWithCode(
      dst.client.blobPut("r", desc, () => src.client.blobGet("r", desc)),
      "DIGEST_MISMATCH",
      (e) => assert.equal(e.side, "source"),
    );
    assert.equal(dst.fake.blobs.has(digest), false);
    const complete = dst.fake.requests.filter((r) => r.method === "PUT" && r.bodyLength === data.byteLength);
    assert.equal(complete.length, 0, "the destination never received the whole body");
  });
});

describe("corrupt sources, fast consumer", () => {
  it("a consumer that drains as fast as bytes arrive never receives the whole of a corrupt blob", async () => {
    const data = randomBytes(5 * 65536);
    const { fake, client } = await h.setup({}, { side: "source" });
    const digest = fake.putBlob("r", data);
    const corrupt = Buffer.from(data);
    corrupt[data.byteLength - 1] = (corrupt[data.byteLength - 1] ?? 0) ^ 1;
    fake.blobs.set(digest, corrupt);
    let received = 0;
    await rejectsWithCode(
      (async () => {
        for await (const chunk of await client.blobGet("r", { digest, size: data.byteLength })) received += (chunk as Buffer).byteLength;
      })(),
      "DIGEST_MISMATCH",
    );
    assert.ok(received < data.byteLength, `received ${received} of ${data.byteLength} bytes before the error`);
  });
});

describe("connection hygiene (matrix case 25)", () => {
  it("drains error, HEAD and redirect bodies: a 20-layer copy stays within the pool cap", async () => {
    const src = await h.setup({}, { maxConnectionsPerHost: 3 });
    const layers = Array.from({ length: 20 }, () => randomBytes(20_000));
    const digests = layers.map((l) => src.fake.putBlob("src", l));
    const dst = await h.setup(
      {
        hook: (req, res) => {
          // every mount attempt is refused with a JSON error body that must be drained
          if (req.method === "POST" && req.url?.includes("mount=")) {
            send(res, 401, { errors: [{ code: "UNAUTHORIZED", message: "x".repeat(10_000) }] });
            return true;
          }
          return false;
        },
      },
      { maxConnectionsPerHost: 3, side: "destination" },
    );
    await Promise.all(
      digests.map(async (digest, i) => {
        const desc = { digest, size: layers[i]?.byteLength ?? 0 };
        assert.equal(await dst.client.blobHead("dst", digest), undefined);
        assert.deepEqual(await dst.client.blobMount("dst", "other", digest), { mounted: false });
        await dst.client.blobPut("dst", desc, () => src.client.blobGet("src", desc));
        assert.equal(await dst.client.blobHead("dst", digest), desc.size);
      }),
    );
    for (const [i, d] of digests.entries()) assert.deepEqual(dst.fake.blobs.get(d), layers[i]);
    // cap + 1: the ping's TLS probe (https is tried first on loopback, as docker does) is one socket
    assert.ok(src.fake.connections <= 3 + 1, `source saw ${src.fake.connections} connections`);
    assert.ok(dst.fake.connections <= 3 + 1, `destination saw ${dst.fake.connections} connections`);
  });
});
