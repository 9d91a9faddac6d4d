/**
 * Docker schema 1 manifests as Docker wrote them: a pretty-printed payload signed with libtrust's
 * JWS "pretty signature" (docker/libtrust `jsonsign.go`: `Sign`, `PrettySignature`; keys as
 * `ec_key.go` writes them). The signatures are real ES256 signatures that distribution verifies.
 */
import { createHash, generateKeyPairSync, type KeyObject, sign } from "node:crypto";

/** Schema 1 manifest fields; `layers` newest first, as schema 1 lists them. */
export interface Schema1Spec {
  name: string;
  tag: string;
  architecture?: string;
  layers: Array<{ blobSum: string; v1Compatibility: Record<string, unknown> | string }>;
}

/** The payload (what the digest covers), pretty-printed with Docker's three-space indent. */
export function schema1PayloadOf(spec: Schema1Spec, indent = 3): Buffer {
  const obj = {
    schemaVersion: 1,
    name: spec.name,
    tag: spec.tag,
    architecture: spec.architecture ?? "amd64",
    fsLayers: spec.layers.map((l) => ({ blobSum: l.blobSum })),
    history: spec.layers.map((l) => ({ v1Compatibility: typeof l.v1Compatibility === "string" ? l.v1Compatibility : JSON.stringify(l.v1Compatibility) })),
  };
  return Buffer.from(JSON.stringify(obj, null, indent));
}

/** libtrust's key ID: sha256 of the DER public key, 240 bits in base32, in groups of four. */
function keyId(publicKey: KeyObject): string {
  const sum = createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest()
    .subarray(0, 30);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const b of sum) bits += b.toString(2).padStart(8, "0");
  const s = (bits.match(/.{5}/g) ?? []).map((g) => alphabet[Number.parseInt(g, 2)]).join("");
  return (s.match(/.{4}/g) ?? []).join(":");
}

/**
 * Signs `payload` (a JSON object ending in `}`) as libtrust does, with `keys` fresh P-256 keys,
 * and lays it out as `PrettySignature` does: the payload up to its last member, then the
 * `signatures` member, then the payload's tail. `time` goes into each protected header.
 */
export function signSchema1(payload: Buffer, opts: { keys?: number; time?: string } = {}): Buffer {
  const text = payload.toString("utf8");
  const close = text.trimEnd().length - 1;
  const formatLength = Buffer.byteLength(text.slice(0, close).trimEnd());
  const tail = payload.subarray(formatLength);
  const indent = /\n([ \t]+)\S/.exec(text)?.[1] ?? "";
  const encodedPayload = payload.toString("base64url");
  const time = opts.time ?? new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const signatures = Array.from({ length: opts.keys ?? 1 }, () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = publicKey.export({ format: "jwk" }) as { x: string; y: string };
    const protectedHeader = Buffer.from(JSON.stringify({ formatLength, formatTail: tail.toString("base64url"), time })).toString("base64url");
    const signature = sign("sha256", Buffer.from(`${protectedHeader}.${encodedPayload}`), { key: privateKey, dsaEncoding: "ieee-p1363" });
    return {
      header: { jwk: { crv: "P-256", kid: keyId(publicKey), kty: "EC", x: jwk.x, y: jwk.y }, alg: "ES256" },
      signature: signature.toString("base64url"),
      protected: protectedHeader,
    };
  });
  const head = payload.subarray(0, formatLength).toString("utf8");
  const sigs = indent ? JSON.stringify(signatures, null, indent).replace(/\n/g, `\n${indent}`) : JSON.stringify(signatures);
  const member = indent ? `,\n${indent}"signatures": ${sigs}\n` : `,"signatures":${sigs}`;
  return Buffer.from(`${head}${member}}`);
}

/** gzip of an empty tar archive (containers/image `GzippedEmptyLayer`): sha256:a3ed95ca…. */
export const GZIPPED_EMPTY_LAYER = Buffer.from([
  31, 139, 8, 0, 0, 9, 110, 136, 0, 255, 98, 24, 5, 163, 96, 20, 140, 88, 0, 8, 0, 0, 255, 255, 46, 175, 181, 239, 0, 4, 0, 0,
]);
