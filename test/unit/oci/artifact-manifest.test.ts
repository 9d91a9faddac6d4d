/** The OCI 1.1.0-rc artifact manifest: parsed as a kind of its own, its bytes kept verbatim. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FerryError } from "../../../lib/errors.ts";
import { digestOf } from "../../../lib/oci/digest.ts";
import { parseManifest } from "../../../lib/oci/manifest.ts";
import { MANIFEST_ACCEPT, OCI_ARTIFACT_MANIFEST, OCI_MANIFEST } from "../../../lib/oci/media-types.ts";

const code = (c: string) => (e: unknown) => e instanceof FerryError && e.code === c;
const blob = { mediaType: "application/vnd.cncf.notary.signature", digest: `sha256:${"a".repeat(64)}`, size: 1234 };
const subject = { mediaType: OCI_MANIFEST, digest: `sha256:${"b".repeat(64)}`, size: 567 };

// As oras 1.0.0-rc pushed them: no schemaVersion, no config; spacing that a re-serialisation would lose.
const text = `{"mediaType":"${OCI_ARTIFACT_MANIFEST}", "artifactType":"application/vnd.cncf.notary.signature",
  "blobs":[${JSON.stringify(blob)}],"subject":${JSON.stringify(subject)},"annotations":{"io.cncf.notary.x509chain.thumbprint#S256":"[]"}}`;

describe("OCI 1.1.0-rc artifact manifests", () => {
  it("parse as kind artifact with artifactType, blobs, subject and annotations; the bytes are kept as they came", () => {
    const bytes = Buffer.from(text);
    const raw = parseManifest(bytes, OCI_ARTIFACT_MANIFEST);
    assert.equal(raw.bytes, bytes);
    assert.equal(raw.digest, digestOf(bytes));
    assert.equal(raw.mediaType, OCI_ARTIFACT_MANIFEST);
    assert.deepEqual(raw.manifest, {
      kind: "artifact",
      mediaType: OCI_ARTIFACT_MANIFEST,
      artifactType: "application/vnd.cncf.notary.signature",
      blobs: [blob],
      subject,
      annotations: { "io.cncf.notary.x509chain.thumbprint#S256": "[]" },
    });
    const again = parseManifest(raw.bytes, raw.mediaType);
    assert.deepEqual(again, raw, "parsing the kept bytes gives the same value");
  });

  it("are recognised without a Content-Type (from the mediaType field) and without either (from the shape)", () => {
    assert.equal(parseManifest(Buffer.from(text)).manifest.kind, "artifact");
    assert.equal(parseManifest(Buffer.from(text), "application/json").manifest.kind, "artifact");
    const bare = Buffer.from(JSON.stringify({ artifactType: "x/y", blobs: [] }));
    const raw = parseManifest(bare);
    assert.equal(raw.mediaType, OCI_ARTIFACT_MANIFEST);
    assert.deepEqual(raw.manifest, { kind: "artifact", mediaType: OCI_ARTIFACT_MANIFEST, artifactType: "x/y", blobs: [] });
  });

  it("may have no blobs; must have an artifactType and well-formed descriptors", () => {
    const noBlobs = parseManifest(Buffer.from(JSON.stringify({ mediaType: OCI_ARTIFACT_MANIFEST, artifactType: "x/y" })));
    assert.deepEqual(noBlobs.manifest.kind === "artifact" && noBlobs.manifest.blobs, []);
    assert.throws(() => parseManifest(Buffer.from(JSON.stringify({ mediaType: OCI_ARTIFACT_MANIFEST, blobs: [] }))), code("MANIFEST_INVALID"));
    const badBlob = { mediaType: OCI_ARTIFACT_MANIFEST, artifactType: "x/y", blobs: [{ mediaType: "a", digest: "nope", size: 1 }] };
    assert.throws(() => parseManifest(Buffer.from(JSON.stringify(badBlob))), code("MANIFEST_INVALID"));
    assert.throws(() => parseManifest(Buffer.from(JSON.stringify({ ...badBlob, blobs: {} }))), code("MANIFEST_INVALID"));
  });

  it("are asked for in Accept", () => {
    assert.ok(MANIFEST_ACCEPT.includes(OCI_ARTIFACT_MANIFEST));
  });
});
