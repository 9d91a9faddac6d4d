/**
 * An OCI 1.1.0-rc artifact manifest copied by a copy session: its blobs go first, like an image's
 * layers; a destination that refuses the media type fails with UNSUPPORTED on the destination.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { digestOf } from "../../../lib/oci/digest.ts";
import { OCI_ARTIFACT_MANIFEST, OCI_MANIFEST } from "../../../lib/oci/media-types.ts";
import { CopySession } from "../../../lib/replicate/copy-session.ts";
import { RegistryStore } from "../../../lib/replicate/registry-store.ts";
import { send } from "../../fakes/registry.ts";
import { rejectsWithCode } from "../../helpers/assert.ts";
import { fakeHarness } from "../../helpers/fake-setup.ts";

const h = fakeHarness();

/** A source holding an artifact manifest with two blobs, and the manifest's descriptor. */
async function sourceWithArtifact() {
  const src = await h.setup({}, { side: "source" });
  const blobs = [Buffer.from("signature envelope"), Buffer.from("certificate chain")];
  const digests = blobs.map((b) => src.fake.putBlob("app", b));
  const bytes = Buffer.from(
    JSON.stringify({
      mediaType: OCI_ARTIFACT_MANIFEST,
      artifactType: "application/vnd.cncf.notary.signature",
      blobs: blobs.map((b, i) => ({ mediaType: "application/jose+json", digest: digests[i], size: b.byteLength })),
      subject: { mediaType: OCI_MANIFEST, digest: `sha256:${"c".repeat(64)}`, size: 100 },
    }),
  );
  const digest = src.fake.putManifest("app", digestOf(bytes), bytes, OCI_ARTIFACT_MANIFEST);
  return { src, bytes, digests, desc: { mediaType: OCI_ARTIFACT_MANIFEST, digest, size: bytes.byteLength } };
}

describe("artifact manifests in a copy session", () => {
  it("copies the blobs, then the manifest's exact bytes", async () => {
    const { src, bytes, digests, desc } = await sourceWithArtifact();
    const dst = await h.setup({}, { side: "destination" });
    const session = new CopySession(new RegistryStore(src.client, "app"), new RegistryStore(dst.client, "app"));
    await session.copyManifest(desc);
    for (const d of digests) assert.ok(dst.fake.repoBlobs.get("app")?.has(d), `blob ${d} copied`);
    const stored = dst.fake.manifests.get("app")?.get(desc.digest);
    assert.deepEqual(stored?.bytes, bytes);
    assert.equal(stored?.mediaType, OCI_ARTIFACT_MANIFEST);
    assert.equal(session.stats.copied, 2);
  });

  it("fails with UNSUPPORTED on the destination when it refuses the media type (as distribution 2.8 does)", async () => {
    const { src, desc } = await sourceWithArtifact();
    const dst = await h.setup(
      {
        hook: (req, res) => {
          if (req.method !== "PUT" || !req.url?.includes("/manifests/")) return false;
          send(res, 400, { errors: [{ code: "MANIFEST_INVALID", message: "manifest invalid", detail: {} }] });
          return true;
        },
      },
      { side: "destination" },
    );
    const session = new CopySession(new RegistryStore(src.client, "app"), new RegistryStore(dst.client, "app"));
    await rejectsWithCode(session.copyManifest(desc), "UNSUPPORTED", (e) => assert.equal(e.side, "destination"));
  });
});
