/** Cosign simple-signing signatures: public keys, the signature layers of a `.sig` manifest, and their verification. */
import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { FerryError } from "../errors.ts";
import type { Descriptor, RawManifest } from "./manifest.ts";

/** Layer media type of a cosign signature payload (sigstore/cosign pkg/types/media.go). */
export const SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json";
/** Layer annotation holding the base64 signature (sigstore/cosign pkg/oci/static/signature.go). */
export const COSIGN_SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature";
/** `critical.type` of every cosign payload (sigstore/sigstore pkg/signature/payload). */
/** The artifact type of a signature cosign pushes as an OCI 1.1 referrer (`--registry-referrers-mode=oci-1-1`). */
export const COSIGN_SIGNATURE_ARTIFACT_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json";

export const COSIGN_SIGNATURE_TYPE = "cosign container image signature";

/** What a signature check concluded; only `valid` lets an image through a gate. */
export type SignatureVerdict = "valid" | "digest-mismatch" | "bad-signature" | "malformed";

const PUBLIC_KEY_PEM = /^\s*-----BEGIN PUBLIC KEY-----[\s\S]+-----END PUBLIC KEY-----\s*$/;

/**
 * Parses SPKI PEM public keys (`cosign.pub`), ECDSA P-256 or ed25519 only; anything else is
 * INVALID_CONFIG naming the key's index, so a gate never starts with a key it cannot use.
 */
export function parsePublicKeys(pems: string[]): KeyObject[] {
  return pems.map((pem, i) => {
    const bad = (why: string, cause?: unknown) =>
      new FerryError("INVALID_CONFIG", `public key [${i}]: ${why}`, { field: `publicKeys[${i}]`, ...(cause ? { cause } : {}) });
    if (typeof pem !== "string" || !PUBLIC_KEY_PEM.test(pem)) throw bad('not a PEM "PUBLIC KEY" block (SPKI, as cosign generate-key-pair writes)');
    let key: KeyObject;
    try {
      key = createPublicKey({ key: pem, format: "pem" });
    } catch (e) {
      throw bad(`cannot be parsed: ${(e as Error).message}`, e);
    }
    if (key.asymmetricKeyType === "ed25519") return key;
    if (key.asymmetricKeyType === "ec") {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === "prime256v1") return key;
      throw bad(`ECDSA curve ${curve ?? "unknown"} is not supported (only P-256)`);
    }
    throw bad(`${key.asymmetricKeyType ?? "unknown"} keys are not supported (only ECDSA P-256 and ed25519)`);
  });
}

/**
 * The simple-signing layers of a cosign signature manifest (a `sha256-<hex>.sig` image or an
 * OCI 1.1 referrer) that carry a signature annotation; attestation and SBOM layers are skipped.
 */
export function signaturesIn(sig: RawManifest): Array<{ payload: Descriptor; signature: string }> {
  if (sig.manifest.kind !== "manifest") return [];
  const out: Array<{ payload: Descriptor; signature: string }> = [];
  for (const layer of sig.manifest.layers) {
    const signature = layer.annotations?.[COSIGN_SIGNATURE_ANNOTATION];
    if (layer.mediaType === SIMPLE_SIGNING_MEDIA_TYPE && signature) out.push({ payload: layer, signature });
  }
  return out;
}

/**
 * Checks one cosign signature: the payload must be simple-signing JSON for `imageDigest`, and
 * the signature must verify over the exact payload bytes with one of `keys` (ECDSA P-256 with
 * SHA-256 and a DER signature, or pure ed25519), as cosign's verifier does. Never throws.
 */
export function verifySimpleSigning(payload: Buffer, signatureB64: string, imageDigest: string, keys: KeyObject[]): SignatureVerdict {
  const claimed = claimedDigest(payload);
  const signature = decodeBase64(signatureB64);
  if (claimed === undefined || signature === undefined) return "malformed";
  if (!keys.some((key) => verifiesWith(key, payload, signature))) return "bad-signature";
  // The claim is checked after the signature: a tampered payload is a bad signature, not a mismatch.
  return claimed === imageDigest ? "valid" : "digest-mismatch";
}

/** `critical.image["docker-manifest-digest"]` of a simple-signing payload, or undefined when it is not one. */
function claimedDigest(payload: Buffer): string | undefined {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString("utf8"));
  } catch {
    return undefined;
  }
  const critical = field(json, "critical");
  if (field(critical, "type") !== COSIGN_SIGNATURE_TYPE) return undefined;
  const digest = field(field(critical, "image"), "docker-manifest-digest");
  return typeof digest === "string" && digest !== "" ? digest : undefined;
}

function field(v: unknown, name: string): unknown {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)[name] : undefined;
}

/** Strict standard base64 with padding, as Go's `base64.StdEncoding` reads it. */
function decodeBase64(s: string): Buffer | undefined {
  if (typeof s !== "string" || s.length === 0 || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(s)) return undefined;
  return Buffer.from(s, "base64");
}

function verifiesWith(key: KeyObject, payload: Buffer, signature: Buffer): boolean {
  try {
    if (key.asymmetricKeyType === "ed25519") return verify(null, payload, key, signature);
    if (key.asymmetricKeyType === "ec") return verify("sha256", payload, { key, dsaEncoding: "der" }, signature);
  } catch {
    // A signature that is not DER, or of the wrong length, is simply not a valid one.
  }
  return false;
}
