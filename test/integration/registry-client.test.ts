/**
 * The registry client against real CNCF distribution registries: plain, htpasswd basic auth,
 * token auth (scopes checked by the token server), TLS with a test CA, foreign-layer URLs.
 * skopeo independently checks what we pushed.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import { after, before, describe, it } from "node:test";
import { RegistryError } from "../../lib/errors.ts";
import { descriptorOf, parseManifest } from "../../lib/oci/manifest.ts";
import { DOCKER_FOREIGN_LAYER, OCI_ARTIFACT_MANIFEST, OCI_EMPTY } from "../../lib/oci/media-types.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { staticCredentials } from "../../lib/registry/credentials.ts";
import { rejectsWithCode, rejectsWithRegistryError } from "../helpers/assert.ts";
import { type Distribution, startDistribution } from "../helpers/distribution.ts";
import { allBlobs, allManifests, bytesBlob, configBlob, imageManifest, pushImage, randomBlob, randomIndex } from "../helpers/images.ts";
import { skopeoCopyToLayout, skopeoInspectRaw } from "../helpers/skopeo.ts";

const registries: Distribution[] = [];
const clients: RegistryClient[] = [];
const start = async (o: Parameters<typeof startDistribution>[0] = {}) => {
  const r = await startDistribution(o);
  registries.push(r);
  return r;
};
const client = (o: ConstructorParameters<typeof RegistryClient>[0]) => {
  const c = new RegistryClient({ retry: { baseDelayMs: 20 }, ...o });
  clients.push(c);
  return c;
};
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(registries.map((r) => r.stop()));
});

describe("plain HTTP distribution", () => {
  let reg: Distribution;
  before(async () => {
    reg = await start();
  });

  it("pushes a 3-platform image with attestations; skopeo reads back the same bytes and verifies every blob", async () => {
    const c = client({ host: reg.host, side: "destination" });
    const image = randomIndex({ platforms: 3, layers: 2, layerSize: 50_000, attestations: true, seed: "plain" });
    await pushImage(c, "team/app", "v1", image);
    assert.equal(c.baseUrl, `http://${reg.host}/`, "a loopback registry without TLS is spoken to over plain HTTP");
    const head = await c.manifestHead("team/app", "v1");
    assert.equal(head?.digest, image.digest);
    const raw = await skopeoInspectRaw(`${reg.host}/team/app:v1`);
    assert.deepEqual(raw, image.bytes, "skopeo sees our exact bytes");
    const dir = await mkdtemp(join(tmpdir(), "ferry-skopeo-"));
    try {
      await skopeoCopyToLayout(`${reg.host}/team/app:v1`, dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    for (const m of allManifests(image)) {
      const got = await c.manifestGet("team/app", m.digest);
      assert.deepEqual(got.bytes, m.bytes);
    }
    assert.deepEqual(await c.tagListAll("team/app"), ["v1"]);
  });

  it("streams blobs registry → registry with verification; mount across repositories", async () => {
    const c = client({ host: reg.host });
    const src = c.withSide("source");
    const dst = c.withSide("destination");
    clients.push(src, dst);
    const b = randomBlob(3_000_000, "stream");
    await dst.blobPut("src/repo", b, async () => b.open());
    const copy = bytesBlob(Buffer.from("unused"), "x"); // a second blob to mount
    await dst.blobPut("src/repo", copy, async () => copy.open());
    await dst.blobPut("dst/repo", b, () => src.blobGet("src/repo", b));
    assert.equal(await dst.blobHead("dst/repo", b.digest), b.size);
    assert.deepEqual(await dst.blobMount("other/repo", "src/repo", copy.digest), { mounted: true });
    assert.equal(await dst.blobHead("other/repo", copy.digest), copy.size);
    const back = await buffer(await src.blobGet("dst/repo", b));
    assert.equal(back.byteLength, b.size);
  });

  it("gets MANIFEST_BLOB_UNKNOWN when an index is pushed before its children", async () => {
    const c = client({ host: reg.host, side: "destination" });
    const image = randomIndex({ platforms: 2, seed: "order" });
    await rejectsWithRegistryError(c.manifestPut("order/app", "v1", image.bytes, image.mediaType), 400, "MANIFEST_BLOB_UNKNOWN");
  });
});

describe("htpasswd basic auth", () => {
  let reg: Distribution;
  before(async () => {
    reg = await start({ auth: "htpasswd" });
  });
  it("pushes and pulls with credentials", async () => {
    const c = client({ host: reg.host, side: "destination", credentials: staticCredentials("alice", "wonderland") });
    const image = randomIndex({ platforms: 2, seed: "basic", format: "docker" });
    await pushImage(c, "secure/app", "v1", image);
    assert.equal((await c.manifestGet("secure/app", "v1")).digest, image.digest);
    assert.deepEqual(await skopeoInspectRaw(`${reg.host}/secure/app:v1`, { creds: "alice:wonderland" }), image.bytes);
  });
  it("fails with 401 UNAUTHORIZED without credentials or with wrong ones", async () => {
    await rejectsWithRegistryError(client({ host: reg.host }).manifestGet("secure/app", "v1"), 401, "UNAUTHORIZED");
    const wrong = client({ host: reg.host, side: "source", credentials: staticCredentials("alice", "nope") });
    const e = await rejectsWithRegistryError(wrong.manifestGet("secure/app", "v1"), 401, "UNAUTHORIZED");
    assert.equal(e.side, "source");
    assert.ok(!e.message.includes("nope"), "the password never appears in an error");
  });
});

describe("token auth", () => {
  let reg: Distribution;
  before(async () => {
    reg = await start({
      auth: "token",
      users: { alice: "wonderland", bob: "builder" },
      acl: (user, repo) => (user === "alice" ? ["pull", "push"] : user === "bob" && repo.startsWith("public/") ? ["pull"] : []),
    });
  });
  it("asks the token server for the right scopes, push first, and reuses tokens", async () => {
    const c = client({ host: reg.host, side: "destination", credentials: staticCredentials("alice", "wonderland") });
    const image = randomIndex({ platforms: 2, seed: "token" });
    await pushImage(c, "public/app", "v1", image);
    const ts = reg.tokenServer;
    assert.ok(ts);
    assert.ok(ts.requests.every((r) => r.user === "alice" && r.service === "test-registry"));
    assert.deepEqual(ts.requests[0]?.scopes, ["repository:public/app:pull,push"]);
    assert.ok(ts.requests.length <= 2, `one token for the whole push, got ${ts.requests.length} requests`);
    const before = ts.requests.length;
    await c.blobMount("mirror/app", "public/app", allBlobs(image)[0]?.digest ?? "");
    assert.deepEqual(ts.requests.at(-1)?.scopes, ["repository:mirror/app:pull,push", "repository:public/app:pull"]);
    assert.equal(ts.requests.length, before + 1);
  });
  it("a pull-only token cannot push: a clear 401 after one re-auth, no loop", async () => {
    const c = client({ host: reg.host, side: "destination", credentials: staticCredentials("bob", "builder") });
    const m = imageManifest({ config: configBlob({ os: "linux", architecture: "amd64" }, "oci", "ro", 0), layers: [] });
    const e = await rejectsWithRegistryError(c.manifestPut("public/app", "ro", m.bytes, m.mediaType), 401);
    assert.equal(e.side, "destination");
    const src = client({ host: reg.host, side: "source", credentials: staticCredentials("bob", "builder") });
    assert.ok(await src.manifestHead("public/app", "v1"), "bob can still pull");
  });
});

describe("TLS with a test CA", () => {
  let reg: Distribution;
  before(async () => {
    reg = await start({ tls: true });
  });
  it("verifies the server with the configured CA file", async () => {
    const c = client({ host: reg.host, side: "destination", caFile: reg.caFile ?? "" });
    const image = randomIndex({ platforms: 2, seed: "tls" });
    await pushImage(c, "tls/app", "v1", image);
    assert.equal(c.baseUrl, `https://${reg.host}/`);
    assert.equal((await c.manifestGet("tls/app", "v1")).digest, image.digest);
  });
  it("fails with a clear TLS error without the CA, and never falls back to plain HTTP", async () => {
    const c = client({ host: reg.host, side: "source" });
    await rejectsWithCode(c.manifestHead("tls/app", "v1"), "TLS", (e) => {
      assert.equal(e.side, "source");
      assert.match(e.message, /--ca-file/);
    });
  });
  it("accepts an untrusted certificate only when told to be insecure", async () => {
    const c = client({ host: reg.host, insecure: true });
    assert.ok(await c.manifestHead("tls/app", "v1"));
  });
});

describe("foreign layers", () => {
  it("are accepted with validation.manifests.urls.allow, refused without", async () => {
    const foreign = { ...randomBlob(1000, "foreign", DOCKER_FOREIGN_LAYER), urls: ["https://example.invalid/layer.tar.gz"], external: true };
    const local = randomBlob(1000, "local");
    const m = imageManifest({ format: "docker", config: configBlob({ os: "windows", architecture: "amd64" }, "docker", "w", 2), layers: [foreign, local] });
    const open = await start({ foreignUrls: true });
    const strict = await start();
    const ok = client({ host: open.host, side: "destination" });
    await pushImage(ok, "win/app", "v1", m);
    assert.deepEqual((await ok.manifestGet("win/app", "v1")).bytes, m.bytes);
    const parsed = parseManifest(m.bytes);
    assert.equal(parsed.manifest.kind === "manifest" && parsed.manifest.layers[0]?.urls?.[0], "https://example.invalid/layer.tar.gz");
    const e = await rejectsWithCode(pushImage(client({ host: strict.host, side: "destination" }), "win/app", "v1", m), "REGISTRY");
    assert.ok((e as unknown as { hasCode(c: string): boolean }).hasCode("MANIFEST_BLOB_UNKNOWN"), e.message);
  });
});

describe("OCI 1.1 on distribution 2.8 (no referrers API, no artifact manifests)", () => {
  const SIG = "application/vnd.dev.cosign.artifact.sig.v1+json";
  let reg: Distribution;
  before(async () => {
    reg = await start();
  });

  it("accepts a manifest with a subject without answering OCI-Subject; its referrers route says unsupported", async () => {
    const c = client({ host: reg.host, side: "destination" });
    const image = imageManifest({ config: configBlob({ os: "linux", architecture: "amd64" }, "oci", "subj", 1), layers: [randomBlob(1000, "subj")] });
    await pushImage(c, "signed/app", "v1", image);
    const sig = imageManifest({
      config: bytesBlob(Buffer.from("{}"), OCI_EMPTY),
      layers: [bytesBlob(Buffer.from("signature"), SIG)],
      artifactType: SIG,
      subject: descriptorOf(parseManifest(image.bytes)),
    });
    for (const b of sig.blobs) await c.blobPut("signed/app", b, async () => b.open());
    assert.deepEqual(
      await c.manifestPutResult("signed/app", sig.digest, sig.bytes, sig.mediaType),
      { digest: sig.digest },
      "no OCI-Subject: keep the fallback tag",
    );
    assert.deepEqual(await c.referrersList("signed/app", image.digest), { supported: false, descriptors: [] });
    assert.deepEqual(await c.referrersList("signed/app", image.digest, { artifactTypes: [SIG] }), { supported: false, descriptors: [] });
  });

  it("refuses an OCI 1.1.0-rc artifact manifest with 400 MANIFEST_INVALID, which ferry reports as UNSUPPORTED on the destination", async () => {
    const c = client({ host: reg.host, side: "destination" });
    const blob = bytesBlob(Buffer.from("notation signature"), "application/jose+json");
    await c.blobPut("signed/app", blob, async () => blob.open());
    const art = Buffer.from(
      JSON.stringify({
        mediaType: OCI_ARTIFACT_MANIFEST,
        artifactType: "application/vnd.cncf.notary.signature",
        blobs: [{ mediaType: blob.mediaType, digest: blob.digest, size: blob.size }],
      }),
    );
    const digest = parseManifest(art).digest;
    for (const ref of [digest, "art"]) {
      await rejectsWithCode(c.manifestPutResult("signed/app", ref, art, OCI_ARTIFACT_MANIFEST), "UNSUPPORTED", (e) => {
        assert.equal(e.side, "destination");
        assert.ok(e.cause instanceof RegistryError, String(e.cause));
        assert.equal(e.cause.status, 400);
        assert.ok(e.cause.hasCode("MANIFEST_INVALID"), JSON.stringify(e.cause.ociCodes));
      });
    }
    assert.equal(await c.manifestHead("signed/app", digest), undefined, "nothing was stored");
  });
});
