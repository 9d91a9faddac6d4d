import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { digestOf } from "../../../lib/oci/digest.ts";
import { DOCKER_LIST, DOCKER_MANIFEST, MANIFEST_ACCEPT, OCI_INDEX, OCI_MANIFEST } from "../../../lib/oci/media-types.ts";
import { send } from "../../fakes/registry.ts";
import { rejectsWithCode } from "../../helpers/assert.ts";
import { fakeHarness } from "../../helpers/fake-setup.ts";

const h = fakeHarness();
const cfg = (c: string) => ({ mediaType: "application/vnd.docker.container.image.v1+json", digest: `sha256:${c.repeat(64)}`, size: 2 });

describe("manifests (matrix cases 5–7)", () => {
  it("sends the full, identical Accept list on HEAD and GET, so distribution serves OCI content and lists (case 5)", async () => {
    const { fake, client } = await h.setup({ strictAccept: true });
    const amd = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_MANIFEST, config: cfg("1"), layers: [] }));
    const amdDigest = fake.putManifest("lib/app", digestOf(amd), amd, DOCKER_MANIFEST);
    const list = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: DOCKER_LIST,
        manifests: [{ mediaType: DOCKER_MANIFEST, digest: amdDigest, size: amd.byteLength, platform: { os: "linux", architecture: "amd64" } }],
      }),
    );
    fake.putManifest("lib/app", "v1", list, DOCKER_LIST);
    const oci = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }));
    fake.putManifest("lib/app", "oci", oci, OCI_INDEX);

    const head = await client.manifestHead("lib/app", "v1");
    assert.equal(head?.mediaType, DOCKER_LIST, "the list, not the amd64 child");
    const got = await client.manifestGet("lib/app", "v1");
    assert.equal(got.mediaType, DOCKER_LIST);
    assert.deepEqual(got.bytes, list);
    assert.equal((await client.manifestGet("lib/app", "oci")).mediaType, OCI_INDEX);
    const accepts = fake.requests.filter((r) => /manifests/.test(r.url)).map((r) => r.headers.accept);
    assert.ok(accepts.length >= 3);
    for (const a of accepts) assert.equal(a, MANIFEST_ACCEPT.join(", "));
  });

  it("answers undefined for a missing manifest on HEAD, and MANIFEST_UNKNOWN on GET", async () => {
    const { client } = await h.setup();
    assert.equal(await client.manifestHead("none", "t"), undefined);
    await rejectsWithCode(client.manifestGet("none", "t"), "REGISTRY", (e) => assert.equal((e as { status?: number }).status, 404));
  });

  it("sniffs a missing mediaType, ignores Content-Type params, and distrusts a tag's Docker-Content-Digest (case 6)", async () => {
    const body = Buffer.from(
      `{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:${"2".repeat(64)}","size":2},"layers":[]}`,
    );
    const real = digestOf(body);
    const { client } = await h.setup({
      hook: (req, res) => {
        if (!req.url?.includes("/manifests/")) return false;
        res.setHeader("content-type", "application/vnd.oci.image.manifest.v1+json; charset=utf-8");
        res.setHeader("docker-content-digest", `sha256:${"f".repeat(64)}`); // wrong, as some registries send
        res.end(body);
        return true;
      },
    });
    const byTag = await client.manifestGet("r", "t");
    assert.equal(byTag.digest, real, "digest computed from the bytes");
    assert.equal(byTag.mediaType, OCI_MANIFEST);
    const byDigest = await client.manifestGet("r", real);
    assert.equal(byDigest.digest, real);
    await rejectsWithCode(client.manifestGet("r", `sha256:${"e".repeat(64)}`), "DIGEST_MISMATCH", (e) => assert.equal(e.side, undefined));
  });

  it("puts raw bytes verbatim with the right Content-Type (case 7)", async () => {
    const { fake, client } = await h.setup({}, { side: "destination" });
    const text = `{\n  "schemaVersion": 2,  "mediaType":"${OCI_INDEX}",\n "manifests" : [ ] , "annotations":{"z":"1","a":"2"}}\n`;
    const d = await client.manifestPut("x", "t", Buffer.from(text), OCI_INDEX);
    assert.equal(d, digestOf(Buffer.from(text)));
    const stored = fake.manifests.get("x")?.get("t");
    assert.equal(stored?.bytes.toString(), text);
    assert.equal(stored?.mediaType, OCI_INDEX);
  });

  it("caps manifest reads", async () => {
    const { client } = await h.setup(
      {
        hook: (req, res) => {
          if (!req.url?.includes("/manifests/")) return false;
          res.setHeader("content-type", OCI_INDEX);
          res.end(Buffer.alloc(2048, 32));
          return true;
        },
      },
      { maxManifestBytes: 1024 },
    );
    await rejectsWithCode(client.manifestGet("r", "t"), "MANIFEST_TOO_LARGE");
  });

  it("lists tags across Link pages without counting results", async () => {
    const { fake, client } = await h.setup({ tagPageSize: 7 });
    const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }));
    const tags = Array.from({ length: 23 }, (_, i) => `v${String(i).padStart(2, "0")}`);
    for (const t of tags) fake.putManifest("t/r", t, m, OCI_INDEX);
    const pages: string[][] = [];
    for await (const p of client.tagList("t/r", { pageSize: 5000 })) pages.push(p);
    assert.deepEqual(pages.flat(), tags);
    assert.equal(pages.length, 4);
    assert.ok(
      fake.requests.some((r) => r.url.includes("n=1000")),
      "page size clamped to ECR's 1000",
    );
  });

  it("surfaces the ECR immutable-tag refusal with its code", async () => {
    const { client } = await h.setup(
      {
        hook: (req, res) => {
          if (req.method !== "PUT") return false;
          send(res, 400, {
            errors: [{ code: "TAG_INVALID", message: "The image tag 'v1' already exists ... cannot be overwritten because the tag is immutable." }],
          });
          return true;
        },
      },
      { side: "destination" },
    );
    await rejectsWithCode(client.manifestPut("r", "v1", Buffer.from("{}"), OCI_MANIFEST), "REGISTRY", (e) => {
      assert.equal(e.side, "destination");
      assert.equal(e.retryable, false);
      assert.ok((e as unknown as { hasCode(c: string): boolean }).hasCode("TAG_INVALID"));
    });
  });
});
