import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { digestOf } from "../../../lib/oci/digest.ts";
import { send } from "../../fakes/registry.ts";
import { rejectsWithRegistryError } from "../../helpers/assert.ts";
import { fakeHarness } from "../../helpers/fake-setup.ts";

const h = fakeHarness();
const MiB = 1024 * 1024;
const blob = (n: number) => {
  const data = randomBytes(n);
  return { data, desc: { digest: digestOf(data), size: n }, open: async () => Readable.from([data]) };
};
/** Splits a buffer into small chunks, as a network stream would deliver it. */
const streamed =
  (data: Buffer, size = 64 * 1024) =>
  async () =>
    Readable.from(
      (function* () {
        for (let i = 0; i < data.byteLength; i += size) yield data.subarray(i, i + size);
      })(),
    );

describe("cross-repository mount (matrix case 4)", () => {
  it("201: mounted, no upload", async () => {
    const { fake, client } = await h.setup({}, { side: "destination" });
    const d = fake.putBlob("src", Buffer.from("layer"));
    assert.deepEqual(await client.blobMount("dst", "src", d), { mounted: true });
    assert.ok(fake.repoBlobs.get("dst")?.has(d));
    assert.ok(
      fake.requests.some((r) => r.url.includes(`mount=${d}&from=src`)),
      "always sends from= (Quay rejects mount without it)",
    );
  });
  it("202: the opened session is used for the upload (no second POST)", async () => {
    const { fake, client } = await h.setup({}, { side: "destination" });
    const b = blob(1000);
    const r = await client.blobMount("dst", "elsewhere", b.desc.digest);
    assert.equal(r.mounted, false);
    assert.ok(!r.mounted && r.location);
    await client.blobPut("dst", b.desc, b.open, { location: !r.mounted ? r.location : undefined });
    assert.equal(fake.count("POST"), 1);
    assert.deepEqual(fake.blobs.get(b.desc.digest), b.data);
  });
  it("401 (Harbor, missing source project) falls back to an upload", async () => {
    const { fake, client } = await h.setup({
      hook: (req, res) => {
        if (req.method === "POST" && req.url?.includes("mount=")) {
          send(res, 401, { errors: [{ code: "UNAUTHORIZED", message: "project not found" }] });
          return true;
        }
        return false;
      },
    });
    const b = blob(10);
    assert.deepEqual(await client.blobMount("dst", "src", b.desc.digest), { mounted: false });
    await client.blobPut("dst", b.desc, b.open);
    assert.deepEqual(fake.blobs.get(b.desc.digest), b.data);
  });
});

describe("upload Locations (matrix case 12)", () => {
  it("keeps an existing query verbatim and appends &digest= raw; follows each new Location", async () => {
    const { fake, client } = await h.setup({}, { uploadMode: "patch" });
    const b = blob(5000);
    await client.blobPut("r", b.desc, b.open);
    const patch = fake.requests.find((r) => r.method === "PATCH");
    const put = fake.requests.find((r) => r.method === "PUT");
    assert.match(patch?.url ?? "", /\?_state=[0-9a-f-]+%3D%3D$/, "PATCH went to the POST's Location, query untouched");
    // the PATCH answer carried a new Location (its _state names the size): the PUT must use it
    assert.match(put?.url ?? "", new RegExp(`\\?_state=[0-9a-f-]+-5000%3D%3D&digest=${b.desc.digest}$`));
  });
  it("resolves a relative Location and uploads to an absolute Location on another host without Authorization", async () => {
    const b = blob(3000);
    const seen: Array<{ url: string; auth: string | undefined; len: number }> = [];
    const store = createServer(async (req, res) => {
      let n = 0;
      for await (const c of req) n += (c as Buffer).byteLength;
      seen.push({ url: req.url ?? "", auth: req.headers.authorization, len: n });
      res.statusCode = 201;
      res.end();
    });
    await new Promise<void>((r) => store.listen(0, "127.0.0.1", r));
    h.onClose(async () => {
      store.closeAllConnections();
      await new Promise<void>((r) => store.close(() => r()));
    });
    const storeOrigin = `http://127.0.0.1:${(store.address() as AddressInfo).port}`;
    const { fake, client } = await h.setup(
      {
        auth: { kind: "basic", username: "u", password: "p" },
        hook: (req, res) => {
          if (req.method === "POST" && req.headers.authorization) {
            res.statusCode = 202;
            res.setHeader("location", `${storeOrigin}/upload/abc?sig=s%2Bx`);
            res.end();
            return true;
          }
          return false;
        },
      },
      { credentials: async () => ({ kind: "basic", username: "u", password: "p" }) },
    );
    await client.blobPut("r", b.desc, b.open);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.url, `/upload/abc?sig=s%2Bx&digest=${b.desc.digest}`);
    assert.equal(seen[0]?.auth, undefined, "credentials never go to another host");
    assert.equal(seen[0]?.len, 3000);
    assert.ok(fake.count("POST") >= 1);

    const rel = await h.setup({
      hook: (req, res) => {
        if (req.method === "POST") {
          res.statusCode = 202;
          res.setHeader("location", "uploads/relative-id?_state=q");
          res.end();
          return true;
        }
        if (req.method === "PUT") {
          send(res, 201, {});
          return true;
        }
        return false;
      },
    });
    await rel.client.blobPut("r", b.desc, b.open);
    assert.equal(rel.fake.requests.find((r) => r.method === "PUT")?.url, `/v2/r/blobs/uploads/uploads/relative-id?_state=q&digest=${b.desc.digest}`);
  });
});

describe("upload forms (matrix cases 13, 15)", () => {
  it("monolithic PUT carries Content-Length and no Content-Range", async () => {
    const { fake, client } = await h.setup();
    const b = blob(200_000);
    await client.blobPut("r", b.desc, streamed(b.data));
    const put = fake.requests.find((r) => r.method === "PUT");
    assert.equal(put?.headers["content-length"], "200000");
    assert.equal(put?.headers["content-range"], undefined);
    assert.equal(put?.headers["content-type"], "application/octet-stream");
    assert.equal(fake.count("PATCH"), 0);
    assert.deepEqual(fake.blobs.get(b.desc.digest), b.data);
  });
  it("streamed PATCH has Content-Length, no Content-Range; the commit PUT is empty", async () => {
    const { fake, client } = await h.setup({}, { uploadMode: "patch" });
    const b = blob(200_000);
    await client.blobPut("r", b.desc, streamed(b.data));
    const patch = fake.requests.find((r) => r.method === "PATCH");
    const put = fake.requests.find((r) => r.method === "PUT");
    assert.equal(patch?.headers["content-length"], "200000");
    assert.equal(patch?.headers["content-range"], undefined);
    assert.equal(put?.bodyLength, 0);
    assert.equal(put?.headers["content-length"], "0");
    assert.deepEqual(fake.blobs.get(b.desc.digest), b.data);
  });
  it("single POST when supported; 202 means unsupported and the bytes go to the Location (case 15)", async () => {
    const ok = await h.setup({}, { singlePostUpload: true });
    const data = Buffer.from('{"config":true}');
    await ok.client.blobPutBytes("r", data);
    assert.equal(ok.fake.count("POST"), 1);
    assert.equal(ok.fake.count("PUT"), 0);
    assert.deepEqual(ok.fake.blobs.get(digestOf(data)), data);

    const no = await h.setup({ quirks: { noSinglePost: true } }, { singlePostUpload: true });
    await no.client.blobPutBytes("r", data);
    assert.equal(no.fake.count("POST"), 1);
    assert.equal(no.fake.count("PUT"), 1);
    assert.deepEqual(no.fake.blobs.get(digestOf(data)), data);
  });
});

describe("chunked uploads (matrix case 14)", () => {
  it("sends Content-Range chunks without a bytes prefix and commits with an empty PUT", async () => {
    const { fake, client } = await h.setup({}, { uploadMode: "chunked", chunkSize: 1 * MiB });
    const b = blob(2.5 * MiB);
    await client.blobPut("r", b.desc, streamed(b.data));
    const ranges = fake.requests.filter((r) => r.method === "PATCH").map((r) => r.headers["content-range"]);
    assert.deepEqual(ranges, [`0-${MiB - 1}`, `${MiB}-${2 * MiB - 1}`, `${2 * MiB}-${2.5 * MiB - 1}`]);
    assert.deepEqual(fake.blobs.get(b.desc.digest), b.data);
  });
  it("ECR: PATCH answered 201 with a Range that stops advancing; the offset is tracked locally", async () => {
    const { fake, client } = await h.setup({ quirks: { patchStatus: 201, stuckRange: true } }, { uploadMode: "chunked", chunkSize: 1 * MiB });
    const b = blob(3 * MiB + 7);
    await client.blobPut("r", b.desc, streamed(b.data));
    assert.equal(fake.count("PATCH"), 4);
    assert.deepEqual(fake.blobs.get(b.desc.digest), b.data);
  });
  it("never chunks to ECR hosts", async () => {
    const { effectiveUploadMode } = await import("../../../lib/registry/blob-upload.ts");
    const { profileFor } = await import("../../../lib/registry/host-profile.ts");
    assert.equal(effectiveUploadMode(profileFor("123456789012.dkr.ecr.eu-west-1.amazonaws.com"), "chunked"), "monolithic");
    assert.equal(effectiveUploadMode(profileFor("public.ecr.aws"), "chunked"), "monolithic");
    assert.equal(effectiveUploadMode(profileFor("ghcr.io"), "chunked"), "chunked");
    assert.equal(effectiveUploadMode(profileFor("registry.example.com", "ecr"), "chunked"), "monolithic", "named in the config");
  });
  it("GHCR: a chunk over the 4 MiB cap gets 416; smaller chunks then succeed", async () => {
    const { fake, client } = await h.setup({ quirks: { maxChunk: 4 * MiB } }, { uploadMode: "chunked", chunkSize: 8 * MiB });
    const b = blob(10 * MiB);
    await client.blobPut("r", b.desc, streamed(b.data));
    const patches = fake.requests.filter((r) => r.method === "PATCH");
    assert.ok(patches.length >= 3);
    assert.equal(patches[0]?.bodyLength, 8 * MiB, "first try at the configured size");
    assert.ok(patches.slice(1).every((p) => p.bodyLength <= 4 * MiB));
    assert.deepEqual(fake.blobs.get(b.desc.digest), b.data);
  });
  it("a host named as GHCR in the config (profile: ghcr) gets chunks within GHCR's cap from the first PATCH", async () => {
    const { fake, client } = await h.setup({ quirks: { maxChunk: 4 * MiB } }, { uploadMode: "chunked", chunkSize: 8 * MiB, profile: "ghcr" });
    const b = blob(10 * MiB);
    await client.blobPut("r", b.desc, streamed(b.data));
    const patches = fake.requests.filter((r) => r.method === "PATCH");
    // every PATCH within the cap, the first included: no 8 MiB try and no 416 to learn from
    assert.ok(patches.length >= 3 && patches.every((p) => p.bodyLength <= 4 * MiB), JSON.stringify(patches.map((p) => p.bodyLength)));
    assert.deepEqual(fake.blobs.get(b.desc.digest), b.data);
  });
  it("honours OCI-Chunk-Min-Length", async () => {
    const { fake, client } = await h.setup({ quirks: { chunkMinLength: 3 * MiB } }, { uploadMode: "chunked", chunkSize: 1 * MiB });
    const b = blob(7 * MiB);
    await client.blobPut("r", b.desc, streamed(b.data));
    const sizes = fake.requests.filter((r) => r.method === "PATCH").map((r) => r.bodyLength);
    assert.deepEqual(sizes, [3 * MiB, 3 * MiB, 1 * MiB]);
    assert.deepEqual(fake.blobs.get(b.desc.digest), b.data);
  });
  it("416 → GET <location> 204 + Range → resumes from what the server holds", async () => {
    const { fake, client } = await h.setup({ quirks: { partialPatch: 2 } }, { uploadMode: "chunked", chunkSize: 1 * MiB });
    const b = blob(3 * MiB);
    await client.blobPut("r", b.desc, streamed(b.data));
    assert.equal(fake.count("GET", /\/blobs\/uploads\//), 1, "asked the upload status once");
    const ranges = fake.requests.filter((r) => r.method === "PATCH").map((r) => r.headers["content-range"]);
    assert.deepEqual(ranges, [`0-${MiB - 1}`, `${MiB}-${2 * MiB - 1}`, `${1.5 * MiB}-${2 * MiB - 1}`, `${2 * MiB}-${3 * MiB - 1}`]);
    assert.deepEqual(fake.blobs.get(b.desc.digest), b.data);
  });
});

describe("upload retries (matrix case 16)", () => {
  it("BLOB_UPLOAD_INVALID restarts the whole upload with a new session and a reopened body", async () => {
    let failed = false;
    const { fake, client } = await h.setup({
      hook: (req, res) => {
        if (req.method === "PUT" && !failed) {
          failed = true;
          send(res, 400, {
            errors: [{ code: "BLOB_UPLOAD_INVALID", message: "First byte of layer part is not equal to the previous layer part's last byte + 1" }],
          });
          return true;
        }
        return false;
      },
    });
    const b = blob(4000);
    let opened = 0;
    await client.blobPut("r", b.desc, async () => {
      opened++;
      return Readable.from([b.data]);
    });
    assert.equal(opened, 2);
    assert.equal(fake.count("POST"), 2);
    assert.deepEqual(fake.blobs.get(b.desc.digest), b.data);
  });
  it("DIGEST_INVALID is not retried", async () => {
    const { fake, client } = await h.setup({}, { side: "destination" });
    const b = blob(100);
    const e = await rejectsWithRegistryError(client.blobPut("r", { ...b.desc, digest: `sha256:${"0".repeat(64)}` }, b.open), 400, "DIGEST_INVALID");
    assert.equal(e.side, "destination");
    assert.equal(fake.count("POST"), 1);
    assert.equal(fake.count("PUT"), 1);
  });
});
