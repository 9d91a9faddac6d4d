/**
 * Stall guards and deadlines on the wire: a fake registry that never answers, sends headers and
 * then nothing, or trickles a byte every 2 s fails the read with STALL on the right side; a fast
 * body, and a consumer that holds a fast body back, pass; a deadline aborts a body mid-stream and
 * an upload mid-body, and nothing is committed. Short settings keep it quick; no timing asserts.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { setTimeout as delay } from "node:timers/promises";
import { describe, it } from "node:test";
import { parseConfig } from "../../../lib/config.ts";
import { FerryError, RegistryError } from "../../../lib/errors.ts";
import { digestOf } from "../../../lib/oci/digest.ts";
import { OCI_INDEX } from "../../../lib/oci/media-types.ts";
import { RegistryClient } from "../../../lib/registry/client.ts";
import { DEFAULT_RETRY, nextDelay } from "../../../lib/registry/retry.ts";
import { DEFAULT_TRANSFER, resolveTransfer } from "../../../lib/registry/stall.ts";
import { rejectsWithCode } from "../../helpers/assert.ts";
import { fakeHarness } from "../../helpers/fake-setup.ts";

const h = fakeHarness();
/** Short guards: 1 s without an answer or a byte, 1 KiB/s over 2 s. */
const quick = { stallTimeout: 1, speedLimit: 1024, speedTime: 2 };
const isBlobGet = (req: IncomingMessage) => req.method === "GET" && /\/blobs\/sha256:/.test(req.url ?? "");

/** Sends the headers of a `size`-byte body now; the caller sends (some of) the body. */
function startBody(res: ServerResponse, size: number): void {
  res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(size) });
  res.flushHeaders();
}

/** Writes one byte of `data` every `everyMs` until the client goes away. */
function trickle(res: ServerResponse, data: Buffer, everyMs: number): void {
  startBody(res, data.byteLength);
  let i = 0;
  const t = setInterval(() => {
    if (i < data.byteLength) res.write(data.subarray(i, ++i));
  }, everyMs);
  res.on("close", () => clearInterval(t));
}

const stallOn = (side: "source" | "destination") => (e: FerryError) => assert.equal(e.side, side);

describe("stall guard", () => {
  it("fails a source that never answers with STALL, and retries a stall only once", async () => {
    const { fake, client } = await h.setup({ hook: (req) => /\/manifests\//.test(req.url ?? "") }, { side: "source", transfer: quick });
    await rejectsWithCode(client.manifestGet("r", "t"), "STALL", stallOn("source"));
    assert.equal(fake.count("GET", /\/manifests\//), 2, "one retry for a stall, not the five a 503 gets");
  });

  it("fails a body that goes silent after the headers (no byte for the stall timeout)", async () => {
    const data = randomBytes(10_000);
    const { client } = await h.setup(
      {
        hook: (req, res) => {
          if (!isBlobGet(req)) return false;
          startBody(res, data.byteLength);
          res.write(data.subarray(0, 100));
          return true;
        },
      },
      // The speed check is off: this must be the no-byte timer.
      { side: "source", transfer: { ...quick, speedLimit: 0 } },
    );
    await rejectsWithCode(buffer(await client.blobGet("r", { digest: digestOf(data), size: data.byteLength })), "STALL", stallOn("source"));
  });

  it("fails a body that trickles a byte every 2 s (under the speed limit)", { timeout: 25_000 }, async () => {
    const data = randomBytes(1000);
    const { client } = await h.setup(
      {
        hook: (req, res) => {
          if (!isBlobGet(req)) return false;
          trickle(res, data, 2000);
          return true;
        },
      },
      // No byte for 30 s never happens here: only the speed check can stop it within the test's timeout.
      { side: "source", transfer: { stallTimeout: 30, speedLimit: 1024, speedTime: 2 } },
    );
    await rejectsWithCode(buffer(await client.blobGet("r", { digest: digestOf(data), size: data.byteLength })), "STALL", stallOn("source"));
  });

  it("fails a trickled manifest the same way", { timeout: 25_000 }, async () => {
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }));
    const { client } = await h.setup(
      {
        hook: (req, res) => {
          if (req.method !== "GET" || !req.url?.includes("/manifests/")) return false;
          res.writeHead(200, { "content-type": OCI_INDEX, "content-length": String(index.byteLength) });
          res.write(index.subarray(0, 1));
          const t = setInterval(() => res.write(" "), 500);
          res.on("close", () => clearInterval(t));
          return true;
        },
      },
      { side: "source", transfer: { stallTimeout: 30, speedLimit: 1024, speedTime: 2 } },
    );
    await rejectsWithCode(client.manifestGet("r", "t"), "STALL", stallOn("source"));
  });

  it("passes a fast body", async () => {
    const data = randomBytes(8 * 1024 * 1024);
    const { fake, client } = await h.setup({}, { side: "source", transfer: { stallTimeout: 1, speedLimit: 1024 * 1024, speedTime: 1 } });
    const digest = fake.putBlob("r", data);
    const got = await buffer(await client.blobGet("r", { digest, size: data.byteLength }));
    assert.ok(got.equals(data));
  });

  it("does not blame the source when our consumer stops reading (backpressure)", async () => {
    const data = randomBytes(16 * 1024 * 1024);
    const { fake, client } = await h.setup({}, { side: "source", transfer: { stallTimeout: 1, speedLimit: 1024 * 1024, speedTime: 1 } });
    const digest = fake.putBlob("r", data);
    const stream = await client.blobGet("r", { digest, size: data.byteLength });
    const chunks: Buffer[] = [];
    let paused = false;
    for await (const c of stream) {
      chunks.push(c as Buffer);
      if (!paused) {
        // The destination is slow: nothing is read for three stall timeouts.
        paused = true;
        await delay(3000);
      }
    }
    assert.ok(Buffer.concat(chunks).equals(data));
  });

  it("fails a token server that never answers with STALL", async () => {
    const { client } = await h.setup(
      { auth: { kind: "bearer" }, hook: (req) => (req.url ?? "").startsWith("/token") },
      { side: "source", transfer: quick, retry: { baseDelayMs: 5, maxAttempts: 2 } },
    );
    await rejectsWithCode(client.manifestHead("r", "t"), "STALL", stallOn("source"));
  });

  it("does not hang on an error body that stalls: the HTTP error is reported", async () => {
    const { client } = await h.setup(
      {
        hook: (req, res) => {
          if (!req.url?.includes("/manifests/")) return false;
          res.writeHead(500, { "content-type": "application/json", "content-length": "1000" });
          res.write('{"errors":');
          return true;
        },
      },
      { side: "source", transfer: quick, retry: { baseDelayMs: 5, maxAttempts: 2 } },
    );
    const e = await rejectsWithCode(client.manifestGet("r", "t"), "REGISTRY");
    assert.ok(e instanceof RegistryError && e.status === 500);
  });

  it("fails an upload whose session POST is never answered with STALL on the destination", async () => {
    const data = randomBytes(1000);
    const { fake, client } = await h.setup(
      { hook: (req) => req.method === "POST" && /\/blobs\/uploads\//.test(req.url ?? "") },
      { side: "destination", transfer: quick },
    );
    await rejectsWithCode(
      client.blobPut("r", { digest: digestOf(data), size: data.byteLength }, async () => Readable.from([data])),
      "STALL",
      stallOn("destination"),
    );
    assert.equal(fake.blobs.size, 0);
  });

  it("resumes a transfer that stalls after real progress once, with Range, and completes", async () => {
    const data = randomBytes(3 * 1024 * 1024);
    let gets = 0;
    const { fake, client } = await h.setup(
      {
        hook: (req, res) => {
          if (!isBlobGet(req) || ++gets > 1) return false;
          startBody(res, data.byteLength);
          res.write(data.subarray(0, 2 * 1024 * 1024));
          return true;
        },
      },
      { side: "source", transfer: { ...quick, speedLimit: 0 } },
    );
    const digest = fake.putBlob("r", data);
    const got = await buffer(await client.blobGet("r", { digest, size: data.byteLength }));
    assert.ok(got.equals(data));
    assert.equal(fake.requests.filter((r) => r.method === "GET" && r.headers.range).length, 1);
  });

  it("does not resume a stall again, nor a source that stalled before sending much", async () => {
    const data = randomBytes(3 * 1024 * 1024);
    let prefix = 1024 * 1024 + 1;
    const { fake, client } = await h.setup(
      {
        hook: (req, res) => {
          if (!isBlobGet(req)) return false;
          const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? "")?.[1] ?? 0);
          res.writeHead(from ? 206 : 200, {
            "content-length": String(data.byteLength - from),
            ...(from ? { "content-range": `bytes ${from}-${data.byteLength - 1}/${data.byteLength}` } : {}),
          });
          res.write(data.subarray(from, from + prefix));
          return true;
        },
      },
      { side: "source", transfer: { ...quick, speedLimit: 0 } },
    );
    const digest = digestOf(data);
    await rejectsWithCode(buffer(await client.blobGet("r", { digest, size: data.byteLength })), "STALL", stallOn("source"));
    assert.equal(fake.count("GET", /\/blobs\//), 2, "the first stall resumes, the second does not");
    prefix = 1000;
    await rejectsWithCode(buffer(await client.blobGet("r", { digest, size: data.byteLength })), "STALL", stallOn("source"));
    assert.equal(fake.count("GET", /\/blobs\//), 3, "a stall after 1000 bytes is not resumed");
  });
});

describe("deadline", () => {
  it("aborts a blob body mid-stream with DEADLINE, long before it would finish", { timeout: 20_000 }, async () => {
    const data = randomBytes(8 * 1024 * 1024);
    let sent = 0;
    const { client } = await h.setup(
      {
        hook: (req, res) => {
          if (!isBlobGet(req)) return false;
          startBody(res, data.byteLength);
          // 160 KiB/s: fast enough for the guards, 50 s for the whole blob.
          const t = setInterval(() => {
            res.write(data.subarray(sent, sent + 16 * 1024));
            sent += 16 * 1024;
          }, 100);
          res.on("close", () => clearInterval(t));
          return true;
        },
      },
      { side: "source" },
    );
    const stream = await client.blobGet("r", { digest: digestOf(data), size: data.byteLength }, { deadline: Date.now() + 1500 });
    await rejectsWithCode(buffer(stream), "DEADLINE", (e) => assert.equal(e.retryable, true));
    assert.ok(sent < data.byteLength);
  });

  it("aborts an upload mid-body with DEADLINE and commits nothing", { timeout: 20_000 }, async () => {
    const data = randomBytes(4 * 1024 * 1024);
    const digest = digestOf(data);
    const { fake, client } = await h.setup({}, { side: "destination" });
    async function* slow() {
      for (let i = 0; i < data.byteLength; i += 64 * 1024) {
        yield data.subarray(i, i + 64 * 1024);
        await delay(100);
      }
    }
    await rejectsWithCode(
      client.blobPut("r", { digest, size: data.byteLength }, async () => Readable.from(slow()), { deadline: Date.now() + 1000 }),
      "DEADLINE",
    );
    await delay(200);
    assert.equal(fake.blobs.has(digest), false, "nothing committed");
    const put = fake.requests.find((r) => r.method === "PUT");
    assert.ok(put && put.bodyLength < data.byteLength, "the PUT never carried the whole blob");
  });

  it("stops waiting for a token at the deadline", { timeout: 15_000 }, async () => {
    // The guard would stop the token fetch after 3 s; the deadline comes first.
    const { client } = await h.setup(
      { auth: { kind: "bearer" }, hook: (req) => (req.url ?? "").startsWith("/token") },
      { side: "source", transfer: { ...quick, stallTimeout: 3 }, retry: { maxAttempts: 1 } },
    );
    await rejectsWithCode(client.manifestHead("r", "t", { deadline: Date.now() + 1000 }), "DEADLINE");
  });

  it("fails a request at once when the deadline has passed", async () => {
    const { fake, client } = await h.setup();
    await rejectsWithCode(client.manifestHead("r", "t", { deadline: Date.now() - 1 }), "DEADLINE");
    assert.equal(fake.count("HEAD"), 0);
  });
});

describe("settings", () => {
  it("uses the config file's transfer defaults", () => {
    assert.deepEqual(parseConfig({ version: 1 }).transfer, DEFAULT_TRANSFER);
    assert.deepEqual(resolveTransfer(undefined), DEFAULT_TRANSFER);
    assert.deepEqual(resolveTransfer({ speedLimit: 0 }), { ...DEFAULT_TRANSFER, speedLimit: 0 });
  });

  it("refuses bad values at construction", () => {
    for (const transfer of [{ stallTimeout: 0 }, { speedLimit: -1 }, { speedTime: Number.NaN }]) {
      assert.throws(
        () => new RegistryClient({ host: "127.0.0.1:1", transfer }),
        (e: unknown) => e instanceof FerryError && e.code === "INVALID_CONFIG",
      );
    }
  });

  it("gives a stall fewer tries than a 503", () => {
    const stall = new FerryError("STALL", "x", { retryable: true });
    const busy = new RegistryError({ status: 503, method: "GET", url: "u" });
    assert.notEqual(nextDelay(stall, 1, DEFAULT_RETRY, undefined), undefined);
    assert.equal(nextDelay(stall, 2, DEFAULT_RETRY, undefined), undefined);
    assert.notEqual(nextDelay(busy, 4, DEFAULT_RETRY, undefined), undefined);
    assert.equal(nextDelay(stall, 1, { ...DEFAULT_RETRY, maxStallAttempts: 1 }, undefined), undefined);
  });
});
