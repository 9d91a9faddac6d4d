/**
 * Docker image manifest schema 1 (`…manifest.v1+prettyjws`, `…manifest.v1+json`), deprecated:
 * parsing, and its digest as registries compute it. A signed manifest's digest is the sha256 of
 * its JWS payload without the `signatures` (docker/libtrust `ParsePrettySignature`: each
 * signature's `protected` header carries `formatLength` and `formatTail`, which rebuild the
 * payload from the served bytes; distribution `schema1.SignedManifest.Canonical`). distribution
 * stores that payload and signs it anew on every GET, so the served bytes change every time while
 * the digest does not. The manifest's fields are read from the payload too: that is what the
 * digest names. An unsigned manifest's digest is the digest of its bytes.
 */
import { FerryError } from "../errors.ts";
import { digestOf, isDigest } from "./digest.ts";
import { DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED } from "./media-types.ts";

/** A Docker schema 1 manifest: copied verbatim where the destination takes it, else converted to schema 2. */
export interface Schema1Manifest {
  kind: "schema1";
  schemaVersion: 1;
  mediaType: string;
  name: string;
  tag: string;
  architecture: string;
  /** Layer blob digests (`fsLayers[].blobSum`), newest first as schema 1 lists them. */
  fsLayers: string[];
  /** `history[].v1Compatibility` (JSON text), parallel to `fsLayers`. */
  history: string[];
}

/** True when these JSON fields are a schema 1 manifest (by its type or its `schemaVersion`). */
export function isSchema1(json: Record<string, unknown>, mediaType: string): boolean {
  return mediaType === DOCKER_SCHEMA1 || mediaType === DOCKER_SCHEMA1_SIGNED || json.schemaVersion === 1;
}

/** True when a schema 1 manifest is signed (has `signatures`, as containers/image guesses the type). */
function isSigned(json: Record<string, unknown>): boolean {
  return json.signatures !== undefined && json.signatures !== null;
}

/**
 * Parses a schema 1 manifest: its fields from the signed payload (or the bytes, unsigned), and
 * its digest in `algorithm` (sha256 unless told otherwise).
 */
export function parseSchema1(
  bytes: Buffer,
  json: Record<string, unknown>,
  mediaType: string,
  algorithm = "sha256",
): { digest: string; manifest: Schema1Manifest } {
  const payload = isSigned(json) ? schema1Payload(bytes, json) : bytes;
  const fields = payload === bytes ? json : parsePayload(payload);
  return { digest: digestOf(payload, algorithm), manifest: toSchema1(fields, mediaType) };
}

/** The JWS payload of a signed schema 1 manifest: the bytes registries hash (libtrust `ParsePrettySignature`). */
export function schema1Payload(bytes: Buffer, json: Record<string, unknown>): Buffer {
  const sigs = json.signatures;
  if (!Array.isArray(sigs) || sigs.length === 0) throw invalid("signatures is not a non-empty array");
  let format: { length: number; tail: Buffer } | undefined;
  for (const [i, sig] of sigs.entries()) {
    const h = formatOf(sig, i);
    if (!format) format = h;
    else if (format.length !== h.length || !format.tail.equals(h.tail)) throw invalid(`signatures[${i}] disagrees on formatLength/formatTail`);
  }
  const f = format as { length: number; tail: Buffer };
  if (f.length > bytes.byteLength) throw invalid(`formatLength ${f.length} exceeds the manifest's ${bytes.byteLength} bytes`);
  return Buffer.concat([bytes.subarray(0, f.length), f.tail]);
}

/** `formatLength` and `formatTail` of one signature's protected header. */
function formatOf(sig: unknown, i: number): { length: number; tail: Buffer } {
  const protectedHeader = isObject(sig) ? sig.protected : undefined;
  if (typeof protectedHeader !== "string") throw invalid(`signatures[${i}] has no protected header`);
  let header: unknown;
  try {
    header = JSON.parse(base64Url(protectedHeader, `signatures[${i}].protected`).toString("utf8"));
  } catch (e) {
    throw e instanceof FerryError ? e : invalid(`signatures[${i}].protected is not JSON`);
  }
  if (!isObject(header)) throw invalid(`signatures[${i}].protected is not a JSON object`);
  const { formatLength, formatTail } = header;
  if (typeof formatLength !== "number" || !Number.isSafeInteger(formatLength) || formatLength < 0) {
    throw invalid(`signatures[${i}] has no valid formatLength`);
  }
  if (typeof formatTail !== "string") throw invalid(`signatures[${i}] has no formatTail`);
  return { length: formatLength, tail: base64Url(formatTail, `signatures[${i}].formatTail`) };
}

/** Decodes unpadded base64url as libtrust does (spaces and newlines ignored), strictly. */
function base64Url(s: string, where: string): Buffer {
  const t = s.replace(/[\n ]/g, "");
  if (!/^[A-Za-z0-9_-]*$/.test(t) || t.length % 4 === 1) throw invalid(`${where} is not base64url`);
  return Buffer.from(t, "base64url");
}

function parsePayload(payload: Buffer): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString("utf8"));
  } catch {
    throw invalid("the signed payload is not JSON");
  }
  if (!isObject(v)) throw invalid("the signed payload is not a JSON object");
  return v;
}

function toSchema1(json: Record<string, unknown>, mediaType: string): Schema1Manifest {
  if (json.schemaVersion !== 1) throw invalid(`schemaVersion is ${String(json.schemaVersion)}, not 1`);
  const { fsLayers, history } = json;
  if (!Array.isArray(fsLayers) || !Array.isArray(history)) throw invalid("fsLayers or history is not an array");
  if (fsLayers.length !== history.length) throw invalid(`${fsLayers.length} fsLayers but ${history.length} history entries`);
  const blobSums = fsLayers.map((l, i) => {
    const d = isObject(l) ? l.blobSum : undefined;
    if (typeof d !== "string" || !isDigest(d)) throw invalid(`fsLayers[${i}].blobSum is not a digest`);
    return d;
  });
  const compat = history.map((h, i) => {
    const c = isObject(h) ? h.v1Compatibility : undefined;
    if (typeof c !== "string") throw invalid(`history[${i}].v1Compatibility is not a string`);
    return c;
  });
  const text = (v: unknown) => (typeof v === "string" ? v : "");
  return {
    kind: "schema1",
    schemaVersion: 1,
    mediaType,
    name: text(json.name),
    tag: text(json.tag),
    architecture: text(json.architecture),
    fsLayers: blobSums,
    history: compat,
  };
}

/** `os/architecture[/variant]` from the newest v1 entry (the image's own), "" when it cannot tell. */
export function schema1Platform(m: Schema1Manifest): string {
  let v1: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(m.history[0] ?? "{}");
    if (isObject(parsed)) v1 = parsed;
  } catch {
    // The conversion reports a bad entry; the platform is only unknown.
  }
  const text = (v: unknown) => (typeof v === "string" && v ? v : undefined);
  const architecture = text(v1.architecture) ?? text(m.architecture);
  if (!architecture) return "";
  const variant = text(v1.variant);
  return `${text(v1.os) ?? "linux"}/${architecture}${variant ? `/${variant}` : ""}`;
}

function invalid(why: string): FerryError {
  return new FerryError("MANIFEST_INVALID", `schema 1 manifest: ${why}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
