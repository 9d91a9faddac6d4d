import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FerryError } from "../../../lib/errors.ts";
import { DigestVerifier, digestOf, parseDigest, verifyBytes } from "../../../lib/oci/digest.ts";
import { parseManifest } from "../../../lib/oci/manifest.ts";
import { DOCKER_LIST, DOCKER_MANIFEST, DOCKER_SCHEMA1_SIGNED, EMPTY_JSON_DIGEST, OCI_INDEX, OCI_MANIFEST } from "../../../lib/oci/media-types.ts";
import { formatPlatform, parsePlatform, platformMatches } from "../../../lib/oci/platform.ts";
import { schema1PayloadOf, signSchema1 } from "../../helpers/schema1.ts";

const code = (c: string) => (e: unknown) => e instanceof FerryError && e.code === c;

describe("digests", () => {
  it("computes the empty-JSON digest", () => {
    assert.equal(digestOf(Buffer.from("{}")), EMPTY_JSON_DIGEST);
  });
  it("parses sha256/sha512 strictly and tolerates unknown algorithms", () => {
    assert.equal(parseDigest(EMPTY_JSON_DIGEST).algorithm, "sha256");
    assert.equal(parseDigest("sha512:" + "0".repeat(128)).encoded.length, 128);
    assert.equal(parseDigest("blake3:abcd").algorithm, "blake3");
    assert.throws(() => parseDigest("sha256:ABC"), code("INVALID_DIGEST"));
    assert.throws(() => parseDigest("sha256:" + "A".repeat(64)), code("INVALID_DIGEST"));
    assert.throws(() => parseDigest("nocolon"), code("INVALID_DIGEST"));
  });
  it("verifies bytes", () => {
    verifyBytes(Buffer.from("{}"), EMPTY_JSON_DIGEST);
    assert.throws(() => verifyBytes(Buffer.from("{ }"), EMPTY_JSON_DIGEST), code("DIGEST_MISMATCH"));
    assert.throws(() => verifyBytes(Buffer.from("{}"), "blake3:abcd"), code("UNSUPPORTED_DIGEST"));
  });
  it("streaming verifier catches size and digest mismatches", () => {
    const v = new DigestVerifier(EMPTY_JSON_DIGEST, 2);
    v.update(Buffer.from("{"));
    v.update(Buffer.from("}"));
    v.finish();
    const tooMany = new DigestVerifier(EMPTY_JSON_DIGEST, 2);
    assert.throws(() => tooMany.update(Buffer.from("{}x")), code("SIZE_MISMATCH"));
    const short = new DigestVerifier(EMPTY_JSON_DIGEST, 2);
    short.update(Buffer.from("{"));
    assert.throws(() => short.finish(), code("SIZE_MISMATCH"));
    const wrong = new DigestVerifier(EMPTY_JSON_DIGEST, 2);
    wrong.update(Buffer.from("[]"));
    assert.throws(() => wrong.finish(), code("DIGEST_MISMATCH"));
  });
});

const desc = (mediaType: string, c = "a") => ({ mediaType, digest: "sha256:" + c.repeat(64), size: 10 });

describe("parseManifest", () => {
  it("keeps the raw bytes and their digest, whatever the formatting", () => {
    const text = `{\n   "schemaVersion":2,"mediaType": "${OCI_MANIFEST}",\n"config":${JSON.stringify(desc("application/x-unknown-config"))},"layers":[],"annotations":{"z":"1","a":"2"}}\n\n`;
    const bytes = Buffer.from(text);
    const raw = parseManifest(bytes, `${OCI_MANIFEST}; charset=utf-8`);
    assert.equal(raw.bytes, bytes);
    assert.equal(raw.digest, digestOf(bytes));
    assert.equal(raw.mediaType, OCI_MANIFEST);
    assert.equal(raw.manifest.kind, "manifest");
  });
  it("sniffs a missing mediaType from the shape", () => {
    const idx = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [desc(OCI_MANIFEST)] })));
    assert.equal(idx.mediaType, OCI_INDEX);
    assert.equal(idx.manifest.kind, "index");
    const docker = parseManifest(
      Buffer.from(JSON.stringify({ schemaVersion: 2, config: desc("application/vnd.docker.container.image.v1+json"), layers: [] })),
      "application/json",
    );
    assert.equal(docker.mediaType, DOCKER_MANIFEST);
    const oci = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, config: desc("application/vnd.oci.image.config.v1+json"), layers: [] })));
    assert.equal(oci.mediaType, OCI_MANIFEST);
    const s1 = parseManifest(signSchema1(schema1PayloadOf({ name: "a", tag: "v1", layers: [] })));
    assert.equal(s1.mediaType, DOCKER_SCHEMA1_SIGNED);
    assert.equal(s1.manifest.kind, "schema1");
  });
  it("prefers the Content-Type when the JSON has no mediaType", () => {
    const raw = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] })), DOCKER_LIST);
    assert.equal(raw.mediaType, DOCKER_LIST);
  });
  it("rejects a mediaType that contradicts the Content-Type", () => {
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }));
    assert.throws(() => parseManifest(bytes, OCI_MANIFEST), code("MEDIA_TYPE_MISMATCH"));
  });
  it("caps the size and rejects junk", () => {
    assert.throws(() => parseManifest(Buffer.alloc(100, 32), undefined, { maxBytes: 50 }), code("MANIFEST_TOO_LARGE"));
    assert.throws(() => parseManifest(Buffer.from("not json")), code("MANIFEST_INVALID"));
    assert.throws(() => parseManifest(Buffer.from("[]")), code("MANIFEST_INVALID"));
    assert.throws(
      () => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { digest: "x" } }))),
      code("MANIFEST_INVALID"),
    );
  });
  it("keeps platform, urls and annotations of descriptors", () => {
    const raw = parseManifest(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_INDEX,
          manifests: [
            {
              ...desc(OCI_MANIFEST),
              platform: { os: "linux", architecture: "arm", variant: "v7" },
              annotations: { "vnd.docker.reference.type": "attestation-manifest" },
            },
          ],
        }),
      ),
    );
    assert.equal(raw.manifest.kind, "index");
    if (raw.manifest.kind !== "index") return;
    assert.equal(formatPlatform(raw.manifest.manifests[0]?.platform), "linux/arm/v7");
    assert.equal(raw.manifest.manifests[0]?.annotations?.["vnd.docker.reference.type"], "attestation-manifest");
  });
});

describe("platforms", () => {
  it("parses, formats and matches", () => {
    assert.deepEqual(parsePlatform("linux/arm64/v8"), { os: "linux", architecture: "arm64", variant: "v8" });
    assert.equal(formatPlatform(parsePlatform("linux/amd64")), "linux/amd64");
    assert.ok(platformMatches(parsePlatform("linux/arm"), { os: "linux", architecture: "arm", variant: "v7" }));
    assert.ok(!platformMatches(parsePlatform("linux/arm/v6"), { os: "linux", architecture: "arm", variant: "v7" }));
    assert.throws(() => parsePlatform("linux"), code("USAGE"));
  });
});
