import assert from "node:assert/strict";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { describe, it } from "node:test";
import { FerryError } from "../../../lib/errors.ts";
import { COSIGN_SIGNATURE_ANNOTATION, parsePublicKeys, SIMPLE_SIGNING_MEDIA_TYPE, signaturesIn, verifySimpleSigning } from "../../../lib/oci/cosign.ts";
import { digestOf } from "../../../lib/oci/digest.ts";
import { parseManifest } from "../../../lib/oci/manifest.ts";
import { DOCKER_CONFIG, DOCKER_MANIFEST, OCI_CONFIG, OCI_EMPTY, OCI_MANIFEST } from "../../../lib/oci/media-types.ts";
import {
  COSIGN_SIG_ARTIFACT_TYPE,
  cosignAttestation,
  cosignBundleReferrer,
  cosignSbom,
  cosignSignature,
  DSSE_MEDIA_TYPE,
  keyPair,
  referrerArtifact,
  SIGSTORE_BUNDLE_MEDIA_TYPE,
  sigstoreBundle,
  signBytes,
  simpleSigningPayload,
  subjectOf,
} from "../../helpers/cosign.ts";

const IMAGE = digestOf(Buffer.from("the image"));
const OTHER = digestOf(Buffer.from("another image"));
const REF = "127.0.0.1:5000/app";
const code = (c: string) => (e: unknown) => e instanceof FerryError && e.code === c;

const ecdsa = keyPair("ecdsa-p256");
const ed = keyPair("ed25519");
const [ecdsaPub, edPub] = parsePublicKeys([ecdsa.publicKeyPem, ed.publicKeyPem]) as [KeyObject, KeyObject];

describe("verifySimpleSigning", () => {
  const payload = simpleSigningPayload(IMAGE, REF);
  const cases: Array<{ name: string; payload: Buffer; sig: string; digest?: string; keys?: KeyObject[]; want: string }> = [
    { name: "ECDSA P-256 signature", payload, sig: signBytes(payload, ecdsa.privateKey), want: "valid" },
    { name: "ed25519 signature", payload, sig: signBytes(payload, ed.privateKey), want: "valid" },
    { name: "the one matching key of several", payload, sig: signBytes(payload, ed.privateKey), keys: [ecdsaPub, edPub], want: "valid" },
    { name: "ECDSA signature, ed25519 key only", payload, sig: signBytes(payload, ecdsa.privateKey), keys: [edPub], want: "bad-signature" },
    { name: "ed25519 signature, ECDSA key only", payload, sig: signBytes(payload, ed.privateKey), keys: [ecdsaPub], want: "bad-signature" },
    { name: "no keys", payload, sig: signBytes(payload, ecdsa.privateKey), keys: [], want: "bad-signature" },
    { name: "signed payload for another digest", payload, sig: signBytes(payload, ecdsa.privateKey), digest: OTHER, want: "digest-mismatch" },
    {
      name: "tampered payload (same digest, identity changed)",
      payload: simpleSigningPayload(IMAGE, "evil.example/app"),
      sig: signBytes(payload, ecdsa.privateKey),
      want: "bad-signature",
    },
    {
      name: "tampered payload (digest changed, not re-signed)",
      payload: simpleSigningPayload(OTHER, REF),
      sig: signBytes(payload, ecdsa.privateKey),
      digest: OTHER,
      want: "bad-signature",
    },
    {
      name: "payload re-serialised (whitespace)",
      payload: Buffer.from(`${payload.toString()}\n`),
      sig: signBytes(payload, ed.privateKey),
      want: "bad-signature",
    },
    { name: "signature with one bit flipped", payload, sig: flipBit(signBytes(payload, ecdsa.privateKey)), want: "bad-signature" },
    { name: "ed25519 signature with one bit flipped", payload, sig: flipBit(signBytes(payload, ed.privateKey)), want: "bad-signature" },
    { name: "base64 of random bytes", payload, sig: Buffer.alloc(64, 7).toString("base64"), want: "bad-signature" },
    { name: "signature not base64", payload, sig: "not base64!", want: "malformed" },
    { name: "signature unpadded", payload, sig: signBytes(payload, ecdsa.privateKey).replace(/=+$/, "").slice(0, -1), want: "malformed" },
    { name: "empty signature", payload, sig: "", want: "malformed" },
    { name: "payload not JSON", payload: Buffer.from("garbage"), sig: signBytes(Buffer.from("garbage"), ecdsa.privateKey), want: "malformed" },
    { name: "payload JSON but not simple-signing", payload: Buffer.from("[1,2]"), sig: signBytes(Buffer.from("[1,2]"), ecdsa.privateKey), want: "malformed" },
    wrongType(),
    noDigest(),
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.want}`, () => {
      const keys = c.keys ?? [ecdsaPub, edPub];
      assert.equal(verifySimpleSigning(c.payload, c.sig, c.digest ?? IMAGE, keys), c.want);
    });
  }
  it("never throws on junk input", () => {
    const junk = [null, undefined, 42, {}, "", "===="] as unknown[];
    for (const j of junk) {
      assert.equal(verifySimpleSigning(j as Buffer, j as string, IMAGE, [ecdsaPub]), "malformed");
      assert.equal(verifySimpleSigning(payload, j as string, IMAGE, [ecdsaPub]), "malformed");
    }
  });
});

function flipBit(b64: string): string {
  const raw = Buffer.from(b64, "base64");
  raw[10] = (raw[10] as number) ^ 0x20;
  return raw.toString("base64");
}

function wrongType() {
  const p = Buffer.from(
    JSON.stringify({
      critical: { identity: { "docker-reference": REF }, image: { "docker-manifest-digest": IMAGE }, type: "atomic container signature" },
      optional: null,
    }),
  );
  return { name: "payload of another type", payload: p, sig: signBytes(p, ecdsa.privateKey), want: "malformed" };
}

function noDigest() {
  const p = Buffer.from(
    JSON.stringify({ critical: { identity: { "docker-reference": REF }, image: {}, type: "cosign container image signature" }, optional: null }),
  );
  return { name: "payload without a digest", payload: p, sig: signBytes(p, ecdsa.privateKey), want: "malformed" };
}

describe("parsePublicKeys", () => {
  it("reads cosign.pub-style ECDSA P-256 and ed25519 keys", () => {
    const keys = parsePublicKeys([ecdsa.publicKeyPem, ed.publicKeyPem]);
    assert.deepEqual(
      keys.map((k) => k.asymmetricKeyType),
      ["ec", "ed25519"],
    );
    assert.deepEqual(parsePublicKeys([]), []);
  });
  const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "pem" }).toString();
  const p384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" }).publicKey.export({ type: "spki", format: "pem" }).toString();
  const ecPrivate = ecdsa.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const bad: Array<[string, string]> = [
    ["RSA", rsa],
    ["P-384", p384],
    ["a private key", ecPrivate],
    ["garbage", "hello"],
    ["a PEM with a broken body", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"],
  ];
  for (const [name, pem] of bad) {
    it(`refuses ${name} with INVALID_CONFIG naming the key's index`, () => {
      assert.throws(
        () => parsePublicKeys([ed.publicKeyPem, pem]),
        (e: unknown) => code("INVALID_CONFIG")(e) && (e as FerryError).field === "publicKeys[1]",
      );
    });
  }
});

describe("signaturesIn", () => {
  it("lists each simple-signing layer of a .sig manifest with its signature", () => {
    const spec = cosignSignature(IMAGE, REF, ecdsa.privateKey, { more: [{ privateKey: ed.privateKey }] });
    const sigs = signaturesIn(parseManifest(spec.bytes, spec.mediaType));
    assert.equal(sigs.length, 2);
    assert.deepEqual(
      sigs.map((s) => s.signature),
      spec.signatures.map((s) => s.signature),
    );
    assert.deepEqual(
      sigs.map((s) => s.payload.digest),
      spec.signatures.map((s) => digestOf(s.payload)),
    );
  });
  it("skips attestation, SBOM and unannotated layers, and indexes", () => {
    const att = cosignAttestation(IMAGE, ecdsa.privateKey);
    assert.deepEqual(signaturesIn(parseManifest(att.bytes)), []);
    const sbom = cosignSbom(IMAGE);
    assert.deepEqual(signaturesIn(parseManifest(sbom.bytes)), []);
    const unannotated = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, size: 2, digest: IMAGE },
        layers: [{ mediaType: SIMPLE_SIGNING_MEDIA_TYPE, size: 2, digest: IMAGE }],
      }),
    );
    assert.deepEqual(signaturesIn(parseManifest(unannotated)), []);
    assert.deepEqual(signaturesIn(parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] })))), []);
  });
  it("reads the OCI 1.1 referrer form too", () => {
    const spec = cosignSignature(IMAGE, REF, ecdsa.privateKey, { referrer: { mediaType: OCI_MANIFEST, digest: IMAGE, size: 100 } });
    const raw = parseManifest(spec.bytes);
    assert.equal(raw.manifest.kind === "manifest" && raw.manifest.subject?.digest, IMAGE);
    assert.equal(raw.manifest.kind === "manifest" && raw.manifest.artifactType, COSIGN_SIG_ARTIFACT_TYPE);
    assert.equal(signaturesIn(raw).length, 1);
  });
});

describe("cosign fixtures", () => {
  it("a .sig image is cosign's bytes: compact Go JSON, ggcr empty-image config, signature annotation", async () => {
    const spec = cosignSignature(IMAGE, REF, ecdsa.privateKey);
    const payload = spec.signatures[0]!.payload;
    assert.equal(
      payload.toString(),
      `{"critical":{"identity":{"docker-reference":"${REF}"},"image":{"docker-manifest-digest":"${IMAGE}"},"type":"cosign container image signature"},"optional":null}`,
    );
    const config = spec.blobs[0]!;
    const layer = spec.blobs[1]!;
    assert.equal(
      spec.bytes.toString(),
      `{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","config":{"mediaType":"${OCI_CONFIG}","size":${config.size},"digest":"${config.digest}"},` +
        `"layers":[{"mediaType":"${SIMPLE_SIGNING_MEDIA_TYPE}","size":${payload.length},"digest":"${layer.digest}","annotations":{"${COSIGN_SIGNATURE_ANNOTATION}":"${spec.signatures[0]!.signature}"}}]}`,
    );
    // go-containerregistry's ConfigFile of mutate.Append(empty.Image, layer): zero times, diff_id = the payload's digest.
    const zero = "0001-01-01T00:00:00Z";
    assert.deepEqual(
      Buffer.concat(await config.open().toArray()),
      Buffer.from(
        `{"architecture":"","created":"${zero}","history":[{"created":"${zero}"}],"os":"","rootfs":{"type":"layers","diff_ids":["${layer.digest}"]},"config":{}}`,
      ),
    );
    assert.equal(spec.tag, `sha256-${IMAGE.slice(7)}.sig`);
    assert.equal(verifySimpleSigning(payload, spec.signatures[0]!.signature, IMAGE, [ecdsaPub]), "valid");
  });
  it("Docker media types on request", () => {
    const spec = cosignSignature(IMAGE, REF, ed.privateKey, { format: "docker" });
    const raw = parseManifest(spec.bytes);
    assert.equal(raw.mediaType, DOCKER_MANIFEST);
    assert.equal(raw.manifest.kind === "manifest" && raw.manifest.config.mediaType, DOCKER_CONFIG);
  });
  it("corrupted signatures and payloads fail verification; extra layers verify on their own", () => {
    for (const corrupt of ["signature", "payload"] as const) {
      const s = cosignSignature(IMAGE, REF, ecdsa.privateKey, { corrupt }).signatures[0]!;
      assert.equal(verifySimpleSigning(s.payload, s.signature, IMAGE, [ecdsaPub]), "bad-signature", corrupt);
    }
    const spec = cosignSignature(IMAGE, REF, ecdsa.privateKey, { more: [{ privateKey: ed.privateKey, imageDigest: OTHER }] });
    assert.equal(verifySimpleSigning(spec.signatures[1]!.payload, spec.signatures[1]!.signature, IMAGE, [edPub]), "digest-mismatch");
  });
  it("an attestation is a signed DSSE envelope with the predicateType annotation", () => {
    const att = cosignAttestation(IMAGE, ecdsa.privateKey, { predicateType: "https://spdx.dev/Document" });
    const raw = parseManifest(att.bytes);
    assert.ok(raw.manifest.kind === "manifest");
    const layer = raw.manifest.layers[0]!;
    assert.equal(layer.mediaType, DSSE_MEDIA_TYPE);
    assert.deepEqual(layer.annotations, { [COSIGN_SIGNATURE_ANNOTATION]: "", predicateType: "https://spdx.dev/Document" });
    assert.equal(att.tag.endsWith(".att"), true);
  });
  it("referrers chain: a referrer of a referrer, with the empty config", () => {
    const sbom = referrerArtifact({ mediaType: OCI_MANIFEST, digest: IMAGE, size: 100 }, "application/spdx+json", "{}");
    const bundle = cosignBundleReferrer(subjectOf(sbom), sigstoreBundle(sbom.digest, ed.privateKey, ed.publicKeyPem));
    const sbomRaw = parseManifest(sbom.bytes);
    const bundleRaw = parseManifest(bundle.bytes);
    assert.ok(sbomRaw.manifest.kind === "manifest" && bundleRaw.manifest.kind === "manifest");
    assert.equal(sbomRaw.manifest.config.mediaType, OCI_EMPTY);
    assert.equal(sbomRaw.manifest.artifactType, "application/spdx+json");
    assert.deepEqual(bundleRaw.manifest.subject, subjectOf(sbom));
    assert.equal(bundleRaw.manifest.artifactType, SIGSTORE_BUNDLE_MEDIA_TYPE);
    const nested = referrerArtifact(subjectOf(bundle), "application/vnd.example+json", Buffer.from("{}"), { "org.example": "x" });
    const nestedRaw = parseManifest(nested.bytes);
    assert.ok(nestedRaw.manifest.kind === "manifest");
    assert.equal(nestedRaw.manifest.subject?.digest, bundle.digest);
    assert.deepEqual(nestedRaw.manifest.annotations, { "org.example": "x" });
  });
});
