/**
 * Cosign and OCI 1.1 fixtures, byte-for-byte in the shape real tools write them, so tests never
 * need cosign or a network: key pairs, simple-signing payloads and signatures, `.sig` / `.att` /
 * `.sbom` images (go-containerregistry's compact JSON, field order and empty-image config, as
 * cosign builds them), and referrer artifacts (oras-style manifests with `subject`).
 */
import { createHash, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { COSIGN_SIGNATURE_ANNOTATION, COSIGN_SIGNATURE_TYPE, SIMPLE_SIGNING_MEDIA_TYPE } from "../../lib/oci/cosign.ts";
import { digestOf } from "../../lib/oci/digest.ts";
import { DOCKER_CONFIG, DOCKER_MANIFEST, OCI_CONFIG, OCI_EMPTY, OCI_MANIFEST } from "../../lib/oci/media-types.ts";
import { type BlobSpec, bytesBlob, imageManifest, type ManifestSpec } from "./images.ts";

export const DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json";
export const IN_TOTO_MEDIA_TYPE = "application/vnd.in-toto+json";
export const SPDX_JSON_MEDIA_TYPE = "text/spdx+json";
export const SIGSTORE_BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json";
/** artifactType cosign's experimental OCI 1.1 mode gives a signature referrer (internal/pkg/oci/remote). */
export const COSIGN_SIG_ARTIFACT_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json";

export type KeyKind = "ecdsa-p256" | "ed25519";

/** A key pair: the public half as `cosign.pub` holds it (SPKI PEM), the private half as a KeyObject. */
export function keyPair(kind: KeyKind): { publicKeyPem: string; privateKey: KeyObject } {
  const { publicKey, privateKey } = kind === "ed25519" ? generateKeyPairSync("ed25519") : generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return { publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(), privateKey };
}

/** Signs like sigstore's signers: ECDSA over SHA-256 with a DER signature, ed25519 pure. Base64. */
export function signBytes(payload: Buffer, privateKey: KeyObject): string {
  const alg = privateKey.asymmetricKeyType === "ed25519" ? null : "sha256";
  return sign(alg, payload, alg ? { key: privateKey, dsaEncoding: "der" } : privateKey).toString("base64");
}

/**
 * cosign's payload (`payload.Cosign.MarshalJSON`): Go's compact JSON, struct field order,
 * `optional` null unless annotations are given (`cosign sign -a k=v`), their keys sorted.
 */
export function simpleSigningPayload(imageDigest: string, dockerReference: string, optional?: Record<string, unknown>): Buffer {
  const critical = { identity: { "docker-reference": dockerReference }, image: { "docker-manifest-digest": imageDigest }, type: COSIGN_SIGNATURE_TYPE };
  return Buffer.from(JSON.stringify({ critical, optional: optional ? sortKeys(optional) : null }));
}

/** One signature layer of a `.sig` image. */
export interface SignatureLayer {
  privateKey: KeyObject;
  /** The digest the payload claims; default the signed image's. */
  imageDigest?: string;
  /** Default `<registry>/<repo>` of the signed image, as `cosign sign` writes it. */
  dockerReference?: string;
  optional?: Record<string, unknown>;
  /** Extra layer annotations (e.g. `dev.sigstore.cosign/bundle` when a tlog was used). */
  annotations?: Record<string, string>;
  /** `signature`: flip a bit of the signature; `payload`: alter the payload after signing. */
  corrupt?: "signature" | "payload";
}

/** A `.sig` image: its ManifestSpec plus the tag cosign pushes it under and each layer's parts. */
export type CosignSpec = ManifestSpec & { tag: string; signatures: Array<{ payload: Buffer; signature: string }> };

/** cosign's tag for an attachment of `digest`: `sha256-<hex>.sig` (pkg/oci/remote/options.go). */
export function cosignTag(digest: string, suffix: "sig" | "att" | "sbom"): string {
  return `${digest.replace(":", "-")}.${suffix}`;
}

/**
 * The `.sig` image `cosign sign --key` writes for `imageDigest` (tlog off): an OCI manifest
 * (Docker with `format: "docker"`, as `COSIGN_DOCKER_MEDIA_TYPES=1`), go-containerregistry's
 * empty-image config, one simple-signing layer per signature with the base64 annotation.
 * `more` appends further signatures (other keys, other digests); `corrupt` spoils the first.
 * `referrer` writes it the way `--registry-referrers-mode=oci-1-1` does (config type, subject).
 */
export function cosignSignature(
  imageDigest: string,
  dockerReference: string,
  privateKey: KeyObject,
  opts: {
    format?: "oci" | "docker";
    more?: SignatureLayer[];
    corrupt?: "signature" | "payload";
    optional?: Record<string, unknown>;
    referrer?: { mediaType: string; digest: string; size: number };
  } = {},
): CosignSpec {
  const first: SignatureLayer = {
    privateKey,
    dockerReference,
    ...(opts.corrupt ? { corrupt: opts.corrupt } : {}),
    ...(opts.optional ? { optional: opts.optional } : {}),
  };
  const signatures = [first, ...(opts.more ?? [])].map((l) => signatureLayer(imageDigest, dockerReference, l));
  const layers = signatures.map((s) => ({ blob: bytesBlob(s.payload, SIMPLE_SIGNING_MEDIA_TYPE), annotations: s.annotations }));
  const spec = ggcrImage(layers, opts.format ?? "oci", opts.referrer ? { subject: opts.referrer, configType: COSIGN_SIG_ARTIFACT_TYPE } : {});
  return { ...spec, tag: cosignTag(imageDigest, "sig"), signatures: signatures.map(({ payload, signature }) => ({ payload, signature })) };
}

function signatureLayer(imageDigest: string, dockerReference: string, l: SignatureLayer) {
  let payload = simpleSigningPayload(l.imageDigest ?? imageDigest, l.dockerReference ?? dockerReference, l.optional);
  let signature = signBytes(payload, l.privateKey);
  if (l.corrupt === "signature") {
    const raw = Buffer.from(signature, "base64");
    raw[raw.length - 1] = (raw[raw.length - 1] as number) ^ 0x01;
    signature = raw.toString("base64");
  } else if (l.corrupt === "payload") {
    payload = Buffer.from(payload.toString("utf8").replace('"docker-reference":"', '"docker-reference":"evil.example/'));
  }
  return { payload, signature, annotations: { ...l.annotations, [COSIGN_SIGNATURE_ANNOTATION]: signature } };
}

/** DSSE pre-authentication encoding (secure-systems-lab/dsse protocol.md), what DSSE signs. */
export function dssePae(payloadType: string, body: Buffer): Buffer {
  const type = Buffer.from(payloadType);
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${body.length} `), body]);
}

/** A signed DSSE envelope around an in-toto statement about `imageDigest`, as cosign attest uploads it. */
export function dsseEnvelope(imageDigest: string, privateKey: KeyObject, predicateType: string, predicate: unknown, name = "image"): Buffer {
  const [alg, hex] = imageDigest.split(":") as [string, string];
  const statement = { _type: "https://in-toto.io/Statement/v0.1", predicateType, subject: [{ name, digest: { [alg]: hex } }], predicate };
  const body = Buffer.from(JSON.stringify(statement));
  const sig = signBytes(dssePae(IN_TOTO_MEDIA_TYPE, body), privateKey);
  return Buffer.from(JSON.stringify({ payloadType: IN_TOTO_MEDIA_TYPE, payload: body.toString("base64"), signatures: [{ keyid: "", sig }] }));
}

/**
 * The `.att` image `cosign attest --key` writes: one DSSE layer whose annotations are the empty
 * signature and the predicateType (cmd/cosign/cli/attest/attest.go), in a ggcr empty image.
 */
export function cosignAttestation(
  imageDigest: string,
  privateKey: KeyObject,
  opts: { predicateType?: string; predicate?: unknown; name?: string; format?: "oci" | "docker" } = {},
): CosignSpec {
  const predicateType = opts.predicateType ?? "https://slsa.dev/provenance/v0.2";
  const envelope = dsseEnvelope(imageDigest, privateKey, predicateType, opts.predicate ?? { builder: { id: "https://example.test/builder" } }, opts.name);
  const annotations = { [COSIGN_SIGNATURE_ANNOTATION]: "", predicateType };
  const spec = ggcrImage([{ blob: bytesBlob(envelope, DSSE_MEDIA_TYPE), annotations }], opts.format ?? "oci", {});
  return { ...spec, tag: cosignTag(imageDigest, "att"), signatures: [] };
}

/** A small SPDX 2.3 JSON document describing `imageDigest`. */
export function spdxDocument(imageDigest: string, name = "image"): Buffer {
  return Buffer.from(
    JSON.stringify({
      spdxVersion: "SPDX-2.3",
      dataLicense: "CC0-1.0",
      SPDXID: "SPDXRef-DOCUMENT",
      name,
      documentNamespace: `https://example.test/spdx/${imageDigest}`,
      creationInfo: { created: "2026-11-22T00:00:00Z", creators: ["Tool: ferry-tests"] },
      packages: [{ SPDXID: "SPDXRef-image", name, downloadLocation: "NOASSERTION", versionInfo: imageDigest }],
    }),
  );
}

/** The `.sbom` image `cosign attach sbom` writes (static.NewFile): one unannotated layer, OCI config. */
export function cosignSbom(imageDigest: string, opts: { mediaType?: string; document?: Buffer } = {}): CosignSpec {
  const doc = opts.document ?? spdxDocument(imageDigest);
  const spec = ggcrImage([{ blob: bytesBlob(doc, opts.mediaType ?? SPDX_JSON_MEDIA_TYPE) }], "oci", {});
  return { ...spec, tag: cosignTag(imageDigest, "sbom"), signatures: [] };
}

/** The descriptor of a generated manifest, to use as a `subject`. */
export function subjectOf(m: ManifestSpec): { mediaType: string; digest: string; size: number } {
  return { mediaType: m.mediaType, digest: m.digest, size: m.bytes.byteLength };
}

/**
 * An OCI 1.1 referrer as `oras attach` writes it: `artifactType`, the empty config `{}`, one
 * layer (media type `layerMediaType`, default the artifactType) and `subject`, which may itself
 * be a referrer. Annotations go on the manifest.
 */
export function referrerArtifact(
  subject: { mediaType: string; digest: string; size: number },
  artifactType: string,
  content: Buffer | string,
  annotations?: Record<string, string>,
  opts: { layerMediaType?: string } = {},
): ManifestSpec {
  const layer = bytesBlob(Buffer.isBuffer(content) ? content : Buffer.from(content), opts.layerMediaType ?? artifactType);
  return imageManifest({
    config: bytesBlob(Buffer.from("{}"), OCI_EMPTY),
    layers: [layer],
    artifactType,
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    ...(annotations ? { annotations } : {}),
    serialise: (o) => JSON.stringify(o),
  });
}

/**
 * A sigstore bundle (v0.3, DSSE, public-key material) for `imageDigest`, as cosign 3 signs by
 * default: an in-toto statement with predicate type `https://sigstore.dev/cosign/sign/v1`.
 */
export function sigstoreBundle(imageDigest: string, privateKey: KeyObject, publicKeyPem: string): Buffer {
  const envelope = JSON.parse(dsseEnvelope(imageDigest, privateKey, "https://sigstore.dev/cosign/sign/v1", {}).toString()) as Record<string, unknown>;
  const hint = createHash("sha256").update(publicKeyPem).digest("base64");
  return Buffer.from(JSON.stringify({ mediaType: SIGSTORE_BUNDLE_MEDIA_TYPE, verificationMaterial: { publicKey: { hint } }, dsseEnvelope: envelope }));
}

/**
 * The referrer `cosign sign` (v3, new bundle format) pushes (pkg/oci/remote/write.go
 * WriteReferrer): ggcr field order, `artifactType` also on the empty config, and last.
 */
export function cosignBundleReferrer(
  subject: { mediaType: string; digest: string; size: number },
  bundle: Buffer,
  predicateType = "https://sigstore.dev/cosign/sign/v1",
): ManifestSpec {
  const config = bytesBlob(Buffer.from("{}"), OCI_EMPTY);
  const layer = bytesBlob(bundle, SIGSTORE_BUNDLE_MEDIA_TYPE);
  const annotations = sortKeys({
    "org.opencontainers.image.created": "2026-11-22T00:00:00Z",
    "dev.sigstore.bundle.content": "dsse-envelope",
    "dev.sigstore.bundle.predicateType": predicateType,
  });
  const obj = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { ...ggcrDescriptor(config), artifactType: SIGSTORE_BUNDLE_MEDIA_TYPE },
    layers: [ggcrDescriptor(layer)],
    annotations,
    subject: ggcrDescriptor(subject),
    artifactType: SIGSTORE_BUNDLE_MEDIA_TYPE,
  };
  const bytes = Buffer.from(JSON.stringify(obj));
  return { bytes, digest: digestOf(bytes), mediaType: OCI_MANIFEST, blobs: [config, layer], children: [] };
}

/** A go-containerregistry descriptor: `mediaType`, `size`, `digest`, then annotations with sorted keys. */
function ggcrDescriptor(d: { mediaType: string; digest: string; size: number }, annotations?: Record<string, string>) {
  return { mediaType: d.mediaType, size: d.size, digest: d.digest, ...(annotations ? { annotations: sortKeys(annotations) } : {}) };
}

/**
 * `mutate.Append(empty.Image, layers...)` as cosign does it: the config is ggcr's ConfigFile with
 * zero times, one history entry per layer and the layers' digests as diff_ids (they are not
 * compressed); the manifest is Go's compact JSON in v1.Manifest field order.
 */
function ggcrImage(
  layers: Array<{ blob: BlobSpec; annotations?: Record<string, string> }>,
  format: "oci" | "docker",
  opts: { subject?: { mediaType: string; digest: string; size: number }; configType?: string },
): ManifestSpec {
  const zero = "0001-01-01T00:00:00Z";
  const configFile = {
    architecture: "",
    created: zero,
    history: layers.map(() => ({ created: zero })),
    os: "",
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.blob.digest) },
    config: {},
  };
  const config = bytesBlob(Buffer.from(JSON.stringify(configFile)), opts.configType ?? (format === "docker" ? DOCKER_CONFIG : OCI_CONFIG));
  const mediaType = format === "docker" ? DOCKER_MANIFEST : OCI_MANIFEST;
  const obj = {
    schemaVersion: 2,
    mediaType,
    config: ggcrDescriptor(config),
    layers: layers.map((l) => ggcrDescriptor(l.blob, l.annotations)),
    ...(opts.subject ? { subject: ggcrDescriptor(opts.subject), artifactType: opts.configType } : {}),
  };
  const bytes = Buffer.from(JSON.stringify(obj));
  return { bytes, digest: digestOf(bytes), mediaType, blobs: [config, ...layers.map((l) => l.blob)], children: [] };
}

/** Go's encoding/json writes map keys sorted. */
function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
