/**
 * Schema 1 digests, computed as registries do: for a signed manifest the sha256 of its JWS payload
 * without the signatures (libtrust `formatLength`/`formatTail`), stable while distribution signs
 * the manifest anew on every GET; for an unsigned one the digest of its bytes.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { FerryError } from "../../../lib/errors.ts";
import { digestOf } from "../../../lib/oci/digest.ts";
import { manifestDigestOf, parseManifest } from "../../../lib/oci/manifest.ts";
import { DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED } from "../../../lib/oci/media-types.ts";
import { schema1Payload, schema1Platform } from "../../../lib/oci/schema1.ts";
import { schema1PayloadOf, signSchema1 } from "../../helpers/schema1.ts";

const code = (c: string) => (e: unknown) => e instanceof FerryError && e.code === c;
const sha512 = (b: Buffer) => `sha512:${createHash("sha512").update(b).digest("hex")}`;

// Two GETs of one manifest from distribution 2.8.2 (schema1 enabled, pushed by skopeo 1.9 --format v2s1):
// the registry signed it anew for each GET. Its Docker-Content-Digest on both:
const SERVED_DIGEST = "sha256:8a3e27edf976f9aa42db1447dd4eaedea059873dc799b3e46d62665ee4fc6dc3";
const GET_1 = Buffer.from(
  '{"name":"s1/img","tag":"v1","architecture":"amd64","fsLayers":[{"blobSum":"sha256:722adcc3422ca23522ded73cfcde61ad10ae705a880151f3bd9295f3af4e5c4a"}],"history":[{"v1Compatibility":"{\\"architecture\\":\\"amd64\\",\\"config\\":{\\"Env\\":[\\"A=1\\"]},\\"created\\":\\"2024-01-01T00:00:00Z\\",\\"id\\":\\"91e5e817753f087ed739f43af990185d3385afed517fae58bdcad2f2b0e7de78\\",\\"os\\":\\"linux\\"}"}],"schemaVersion":1,"signatures":[{"header":{"jwk":{"crv":"P-256","kid":"QUAF:TO4V:SUZJ:G4QF:PO7A:4KHD:7OK3:KAHC:VEET:IKX2:GA2F:MFVX","kty":"EC","x":"lc9oh1vRU7CHU7UARetDsaLP78oWqAHioNXxFzb48wA","y":"1VVivVlKNM4OU3Fpjhf_TmrEJ0jqH2SE59kG3piJz0g"},"alg":"ES256"},"signature":"i3g_fmn4V3brAZ2KHKFn3BlG7XgWsZJZ1dSEKw9X8qbdLx2yyFXydnIXdwbHZwTBz82UpvUGb8cMmGVDKI2zEw","protected":"eyJmb3JtYXRMZW5ndGgiOjM5MSwiZm9ybWF0VGFpbCI6ImZRIiwidGltZSI6IjIwMjYtMTEtMzBUMjI6MjU6MDdaIn0"}]}',
);
const GET_2 = Buffer.from(
  '{"name":"s1/img","tag":"v1","architecture":"amd64","fsLayers":[{"blobSum":"sha256:722adcc3422ca23522ded73cfcde61ad10ae705a880151f3bd9295f3af4e5c4a"}],"history":[{"v1Compatibility":"{\\"architecture\\":\\"amd64\\",\\"config\\":{\\"Env\\":[\\"A=1\\"]},\\"created\\":\\"2024-01-01T00:00:00Z\\",\\"id\\":\\"91e5e817753f087ed739f43af990185d3385afed517fae58bdcad2f2b0e7de78\\",\\"os\\":\\"linux\\"}"}],"schemaVersion":1,"signatures":[{"header":{"jwk":{"crv":"P-256","kid":"QUAF:TO4V:SUZJ:G4QF:PO7A:4KHD:7OK3:KAHC:VEET:IKX2:GA2F:MFVX","kty":"EC","x":"lc9oh1vRU7CHU7UARetDsaLP78oWqAHioNXxFzb48wA","y":"1VVivVlKNM4OU3Fpjhf_TmrEJ0jqH2SE59kG3piJz0g"},"alg":"ES256"},"signature":"4Hlh_cPk71ZGSmdwFIS4KJLNH7kkdGTM754HY0Y87JNBqs6PDntF2jCoC2Hg3eeoTt53UAPP9ySlNeeavbh83Q","protected":"eyJmb3JtYXRMZW5ndGgiOjM5MSwiZm9ybWF0VGFpbCI6ImZRIiwidGltZSI6IjIwMjYtMTEtMzBUMjI6MjU6MDdaIn0"}]}',
);

const layer = (c: string) => `sha256:${c.repeat(64)}`;
const spec = {
  name: "library/app",
  tag: "v1",
  layers: [
    { blobSum: layer("c"), v1Compatibility: { id: "c".repeat(64), parent: "b".repeat(64), os: "linux", architecture: "arm64", variant: "v8" } },
    { blobSum: layer("b"), v1Compatibility: { id: "b".repeat(64), parent: "a".repeat(64) } },
    { blobSum: layer("a"), v1Compatibility: { id: "a".repeat(64) } },
  ],
};

describe("schema 1 digests", () => {
  it("a manifest distribution served twice, signed differently each time, has one digest: its Docker-Content-Digest", () => {
    assert.notDeepEqual(GET_1, GET_2, "the served bytes differ");
    for (const bytes of [GET_1, GET_2]) {
      const raw = parseManifest(bytes, DOCKER_SCHEMA1_SIGNED);
      assert.equal(raw.digest, SERVED_DIGEST);
      assert.equal(raw.bytes, bytes, "the bytes are kept as served");
      assert.equal(raw.mediaType, DOCKER_SCHEMA1_SIGNED);
      assert.equal(manifestDigestOf(bytes), SERVED_DIGEST);
      assert.notEqual(digestOf(bytes), SERVED_DIGEST, "not the digest of the bytes");
    }
    const m = parseManifest(GET_1).manifest;
    assert.equal(m.kind, "schema1");
    if (m.kind !== "schema1") return;
    assert.deepEqual(m.fsLayers, ["sha256:722adcc3422ca23522ded73cfcde61ad10ae705a880151f3bd9295f3af4e5c4a"]);
    assert.equal(m.name, "s1/img");
    assert.equal(schema1Platform(m), "linux/amd64");
  });

  it("a pretty-printed manifest as Docker signed it (one or two signatures): the digest of the payload, the tail rebuilt", () => {
    const payload = schema1PayloadOf(spec);
    for (const keys of [1, 2]) {
      const signed = signSchema1(payload, { keys });
      const raw = parseManifest(signed);
      assert.equal(raw.mediaType, DOCKER_SCHEMA1_SIGNED, "sniffed from the signatures");
      assert.equal(raw.digest, digestOf(payload));
      assert.deepEqual(schema1Payload(signed, JSON.parse(signed.toString())), payload);
      assert.equal(manifestDigestOf(signed, "sha512"), sha512(payload));
    }
    const m = parseManifest(signSchema1(payload)).manifest;
    assert.ok(m.kind === "schema1");
    assert.deepEqual(m.fsLayers, [layer("c"), layer("b"), layer("a")]);
    assert.equal(m.history.length, 3);
    assert.equal(schema1Platform(m), "linux/arm64/v8");
  });

  it("the fields come from the signed payload, not from what the envelope adds around it", () => {
    const payload = schema1PayloadOf(spec);
    const signed = signSchema1(payload).toString();
    // A member slipped in beside the signatures: outside the payload, so outside the digest.
    const forged = Buffer.from(signed.replace('"signatures":', `"fsLayers": [{"blobSum": "${layer("f")}"}], "signatures":`));
    const raw = parseManifest(forged);
    assert.equal(raw.digest, digestOf(payload));
    assert.ok(raw.manifest.kind === "schema1");
    assert.deepEqual(raw.manifest.fsLayers, [layer("c"), layer("b"), layer("a")]);
  });

  it("an unsigned manifest (v1+json): the digest of its bytes", () => {
    const bytes = schema1PayloadOf(spec);
    const raw = parseManifest(bytes, DOCKER_SCHEMA1);
    assert.equal(raw.digest, digestOf(bytes));
    assert.equal(parseManifest(bytes).mediaType, DOCKER_SCHEMA1, "sniffed: no signatures");
    assert.equal(manifestDigestOf(bytes), digestOf(bytes));
  });

  const header = (h: Record<string, unknown>) => Buffer.from(JSON.stringify(h)).toString("base64url");
  const withSignatures = (signatures: unknown) => {
    const obj = JSON.parse(schema1PayloadOf(spec).toString());
    return Buffer.from(JSON.stringify({ ...obj, signatures }));
  };
  const bad: Array<[string, Buffer]> = [
    ["empty signatures", withSignatures([])],
    ["no protected header", withSignatures([{ signature: "x" }])],
    ["protected not base64url", withSignatures([{ protected: "!!!" }])],
    ["protected not JSON", withSignatures([{ protected: Buffer.from("nope").toString("base64url") }])],
    ["no formatLength", withSignatures([{ protected: header({ formatTail: "fQ" }) }])],
    ["fractional formatLength", withSignatures([{ protected: header({ formatLength: 1.5, formatTail: "fQ" }) }])],
    ["formatLength past the end", withSignatures([{ protected: header({ formatLength: 1e6, formatTail: "fQ" }) }])],
    [
      "signatures disagree",
      withSignatures([{ protected: header({ formatLength: 10, formatTail: "fQ" }) }, { protected: header({ formatLength: 11, formatTail: "fQ" }) }]),
    ],
    ["payload not JSON", withSignatures([{ protected: header({ formatLength: 10, formatTail: "fQ" }) }])],
    ["fsLayers and history differ in length", Buffer.from(JSON.stringify({ schemaVersion: 1, fsLayers: [{ blobSum: layer("a") }], history: [] }))],
    ["blobSum not a digest", Buffer.from(JSON.stringify({ schemaVersion: 1, fsLayers: [{ blobSum: "nope" }], history: [{ v1Compatibility: "{}" }] }))],
    [
      "v1Compatibility not a string",
      Buffer.from(JSON.stringify({ schemaVersion: 1, fsLayers: [{ blobSum: layer("a") }], history: [{ v1Compatibility: {} }] })),
    ],
  ];
  for (const [name, bytes] of bad) {
    it(`refuses a schema 1 manifest with ${name} (MANIFEST_INVALID)`, () => {
      assert.throws(() => parseManifest(bytes), code("MANIFEST_INVALID"));
    });
  }
});
