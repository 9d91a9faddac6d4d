/**
 * The chaos suite's fault proxy, in front of a real distribution registry: each fault kind
 * happens when its rate is 1 (before and after the registry applied a PUT), and with rates 0 the
 * proxy is transparent, uploads (POST, PATCH, PUT through rewritten Locations) included.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { RegistryClient } from "../../lib/registry/client.ts";
import { type Distribution, startDistribution } from "../helpers/distribution.ts";
import { type FaultProxy, type FaultProxyOptions, startFaultProxy } from "../helpers/fault-proxy.ts";
import { allBlobs, allManifests, pushImage, randomBlob, randomIndex } from "../helpers/images.ts";

interface RawAnswer {
  status?: number;
  headers?: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The socket error or premature close, if any. */
  error?: string;
  ms: number;
}

/** One request on its own connection; never rejects (the error is in the answer). */
function raw(host: string, method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<RawAnswer> {
  const [h, p] = host.split(":") as [string, string];
  const t0 = performance.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let answer: RawAnswer | undefined;
    const done = (error?: string) => {
      if (answer) return;
      answer = { body: Buffer.concat(chunks), ms: performance.now() - t0, ...(error ? { error } : {}) };
      if (res) Object.assign(answer, { status: res.statusCode, headers: res.headers });
      resolve(answer);
    };
    let res: import("node:http").IncomingMessage | undefined;
    const req = request(
      { host: h, port: Number(p), method, path, agent: false, headers: { ...headers, ...(body ? { "content-length": String(body.byteLength) } : {}) } },
      (r) => {
        res = r;
        r.on("data", (c: Buffer) => chunks.push(c));
        r.on("end", () => done());
        r.on("aborted", () => done("aborted"));
        r.on("error", (e) => done((e as NodeJS.ErrnoException).code ?? e.message));
        r.on("close", () => done(r.complete ? undefined : "premature close"));
      },
    );
    req.on("error", (e) => done((e as NodeJS.ErrnoException).code ?? e.message));
    req.end(body);
  });
}

const sha256 = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

let registry: Distribution;
const blob = randomBlob(200_000, "fault-proxy-blob");
const image = randomIndex({ platforms: 2, layers: 2, layerSize: 50_000, seed: "fault-proxy" });
let blobBytes: Buffer;
const proxies: FaultProxy[] = [];

async function proxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const p = await startFaultProxy(registry.host, opts);
  proxies.push(p);
  return p;
}

before(async () => {
  registry = await startDistribution();
  const direct = new RegistryClient({ host: registry.host });
  await direct.blobPut("fp/app", blob, async () => blob.open());
  const chunks: Buffer[] = [];
  for await (const c of blob.open()) chunks.push(c as Buffer);
  blobBytes = Buffer.concat(chunks);
});
after(async () => {
  await Promise.all(proxies.map((p) => p.stop()));
  await registry?.stop();
});

const manifestAccept = { accept: "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json" };

describe("fault proxy", () => {
  it("is transparent with rates 0: GET, HEAD and uploads in every mode go through", async () => {
    const p = await proxy({ seed: 7 });
    for (const [i, uploadMode] of (["monolithic", "patch", "chunked"] as const).entries()) {
      const client = new RegistryClient({ host: p.host, uploadMode, chunkSize: 40_000 });
      await pushImage(client, `fp/through-${i}`, "v1", image);
      for (const m of allManifests(image)) {
        const r = await raw(registry.host, "GET", `/v2/fp/through-${i}/manifests/${m.digest}`, undefined, manifestAccept);
        assert.equal(r.status, 200, `${uploadMode}: ${m.digest} pushed through the proxy`);
        assert.deepEqual(r.body, m.bytes);
      }
      for (const b of allBlobs(image)) {
        const r = await raw(registry.host, "HEAD", `/v2/fp/through-${i}/blobs/${b.digest}`);
        assert.equal(r.status, 200, `${uploadMode}: blob ${b.digest}`);
      }
      await client.close();
    }
    const got = await raw(p.host, "GET", `/v2/fp/app/blobs/${blob.digest}`);
    assert.equal(got.status, 200);
    assert.equal(got.error, undefined);
    assert.equal(sha256(got.body), blob.digest);
    const head = await raw(p.host, "HEAD", `/v2/fp/app/blobs/${blob.digest}`);
    assert.equal(head.status, 200);
    assert.equal(head.headers?.["content-length"], String(blob.size));
    assert.equal(p.faults().total, 0);
    assert.ok(p.requests() > 10);
  });

  it("503 and 429 answer with an OCI error body (429 with Retry-After: 1), before or after the registry", async () => {
    for (const afterShare of [0, 1]) {
      const p = await proxy({ rates: { "503": 1 }, afterShare });
      const r = await raw(p.host, "GET", `/v2/fp/app/blobs/${blob.digest}`);
      assert.equal(r.status, 503);
      assert.equal(JSON.parse(r.body.toString()).errors[0].code, "UNAVAILABLE");
      p.setRates({ "429": 1 });
      const t = await raw(p.host, "GET", "/v2/");
      assert.equal(t.status, 429);
      assert.equal(t.headers?.["retry-after"], "1");
      assert.equal(JSON.parse(t.body.toString()).errors[0].code, "TOOMANYREQUESTS");
      assert.deepEqual(p.faults(), { "503": 1, "429": 1, reset: 0, cut: 0, stall: 0, total: 2 });
      assert.deepEqual(
        p.events().map((e) => e.phase),
        afterShare ? ["after", "after"] : ["before", "before"],
      );
    }
  });

  it("a manifest PUT can fail before the registry sees it, or after it applied it", async () => {
    const mediaType = "application/vnd.oci.image.manifest.v1+json";
    const config = { mediaType: "application/vnd.oci.image.config.v1+json", digest: blob.digest, size: blob.size };
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, config, layers: [] }));
    const put = (host: string, tag: string) => raw(host, "PUT", `/v2/fp/app/manifests/${tag}`, bytes, { "content-type": mediaType });
    const tagged = async (tag: string) => (await raw(registry.host, "HEAD", `/v2/fp/app/manifests/${tag}`, undefined, manifestAccept)).status === 200;

    const beforeProxy = await proxy({ rates: { "503": 1 }, afterShare: 0 });
    assert.equal((await put(beforeProxy.host, "before-503")).status, 503);
    assert.equal(await tagged("before-503"), false, "a fault before forwarding leaves the registry untouched");

    const afterProxy = await proxy({ rates: { "503": 1 }, afterShare: 1 });
    assert.equal((await put(afterProxy.host, "after-503")).status, 503);
    assert.equal(await tagged("after-503"), true, "the registry applied the PUT the client saw fail");

    const resetAfter = await proxy({ rates: { reset: 1 }, afterShare: 1 });
    const r = await put(resetAfter.host, "after-reset");
    assert.equal(r.status, undefined);
    assert.ok(r.error, "the client sees a socket error");
    assert.equal(await tagged("after-reset"), true);

    const cutAnswer = await proxy({ rates: { cut: 1 }, requestCutShare: 0 });
    const c = await put(cutAnswer.host, "after-cut");
    assert.ok(c.error, `the answer is cut: ${JSON.stringify(c)}`);
    assert.equal(await tagged("after-cut"), true);

    const cutUpload = await proxy({ rates: { cut: 1 }, requestCutShare: 1 });
    const u = await put(cutUpload.host, "cut-upload");
    assert.ok(u.error, "the upload is cut");
    assert.equal(await tagged("cut-upload"), false, "a truncated manifest is not applied");
    assert.match(cutUpload.events()[0]?.detail ?? "", /^request at \d+$/);
  });

  it("reset destroys the client's connection before any answer", async () => {
    const p = await proxy({ rates: { reset: 1 }, afterShare: 0 });
    const r = await raw(p.host, "GET", "/v2/");
    assert.equal(r.status, undefined);
    assert.ok(r.error);
    assert.equal(p.faults().reset, 1);
  });

  it("cut sends the headers and part of the body, then closes", async () => {
    const p = await proxy({ rates: { cut: 1 }, seed: 3 });
    for (let i = 0; i < 5; i++) {
      const r = await raw(p.host, "GET", `/v2/fp/app/blobs/${blob.digest}`);
      assert.equal(r.status, 200);
      assert.ok(r.error, "the body ends early");
      assert.ok(r.body.byteLength < blob.size, `${r.body.byteLength} of ${blob.size} bytes`);
      assert.deepEqual(r.body, blobBytes.subarray(0, r.body.byteLength), "what arrives is the registry's bytes");
    }
    // A HEAD has no body to cut: the status line is.
    const h = await raw(p.host, "HEAD", `/v2/fp/app/blobs/${blob.digest}`);
    assert.ok(h.error);
    assert.equal(p.faults().cut, 6);
  });

  it("stall holds the answer, then goes on or cuts", async () => {
    const goesOn = await proxy({ rates: { stall: 1 }, stallSeconds: 1, stallCutShare: 0, seed: 5 });
    for (let i = 0; i < 4; i++) {
      const r = await raw(goesOn.host, "GET", `/v2/fp/app/blobs/${blob.digest}`);
      assert.equal(r.error, undefined);
      assert.equal(r.status, 200);
      assert.equal(sha256(r.body), blob.digest, "a stall that goes on delivers every byte, in order");
      assert.ok(r.ms >= 950, `held ${r.ms} ms`);
    }
    const details = new Set(goesOn.events().map((e) => e.detail));
    assert.ok(details.has("headers") && details.has("body"), `stalls before headers and mid-body: ${[...details].join(", ")}`);

    const cuts = await proxy({ rates: { stall: 1 }, stallSeconds: 1, stallCutShare: 1 });
    const r = await raw(cuts.host, "GET", `/v2/fp/app/blobs/${blob.digest}`);
    assert.ok(r.error, "a stall that cuts ends in a socket error");
    assert.ok(r.ms >= 950);
    assert.equal(cuts.faults().stall, 1);
  });

  it("setRates changes the rates while it runs", async () => {
    const p = await proxy({ rates: { "503": 1 } });
    assert.equal((await raw(p.host, "GET", "/v2/")).status, 503);
    p.setRates({});
    assert.equal((await raw(p.host, "GET", "/v2/")).status, 200);
    p.setRates({ "503": 0.5, "429": 0.5 });
    const statuses = new Set<number | undefined>();
    for (let i = 0; i < 20; i++) statuses.add((await raw(p.host, "GET", "/v2/")).status);
    assert.deepEqual([...statuses].sort(), [429, 503]);
    assert.equal(p.faults().total, 21);
  });
});
