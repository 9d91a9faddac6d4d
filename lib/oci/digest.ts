/** Content digests (`alg:encoded`): parsing, computing, and verification while streaming. */
import { createHash, type Hash } from "node:crypto";
import { FerryError } from "../errors.ts";

const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
/**
 * The algorithms ferry knows: it can hash them, and references may name them. They are the
 * image-spec's registered algorithms (descriptor.md) and what go-digest registers by default
 * (sha256, sha512; go-digest v1.0.0, which distribution/reference pins, registered sha512 only
 * when the program imported crypto/sha512 — docker and containerd do). go-digest's sha384 and
 * blake3 exist only when a program registers them, and node:crypto has no blake3: unknown here.
 */
const KNOWN: ReadonlyMap<string, { hash: string; hexLength: number }> = new Map([
  ["sha256", { hash: "sha256", hexLength: 64 }],
  ["sha512", { hash: "sha512", hexLength: 128 }],
]);

/** A parsed digest; `toString()` gives `alg:encoded`. */
export interface Digest {
  readonly algorithm: string;
  readonly encoded: string;
  toString(): string;
}

/** True when `s` fits the OCI digest grammar (any algorithm). */
export function isDigest(s: string): boolean {
  return DIGEST_GRAMMAR.test(s);
}

/**
 * Parses `alg:encoded`. Known algorithms (sha256, sha512) must be lowercase hex of the right
 * length; unknown ones are kept if they fit the grammar (image-spec descriptor.md).
 */
export function parseDigest(s: string): Digest {
  if (!DIGEST_GRAMMAR.test(s)) throw new FerryError("INVALID_DIGEST", `invalid digest ${JSON.stringify(s)}`);
  const i = s.indexOf(":");
  const algorithm = s.slice(0, i);
  const encoded = s.slice(i + 1);
  const known = KNOWN.get(algorithm);
  if (known && !new RegExp(`^[a-f0-9]{${known.hexLength}}$`).test(encoded)) {
    throw new FerryError("INVALID_DIGEST", `invalid ${algorithm} digest ${JSON.stringify(s)}: want ${known.hexLength} lowercase hex characters`);
  }
  return Object.freeze({ algorithm, encoded, toString: () => s });
}

/** True for the algorithms ferry can verify (sha256, sha512). */
export function isKnownAlgorithm(algorithm: string): boolean {
  return KNOWN.has(algorithm);
}

/**
 * Parses a digest ferry can verify, as go-digest's `Parse` does: INVALID_DIGEST when malformed,
 * UNSUPPORTED_DIGEST when the algorithm is not known (references; a descriptor's may be anything).
 */
export function parseKnownDigest(s: string): Digest {
  const d = parseDigest(s);
  if (!KNOWN.has(d.algorithm)) throw new FerryError("UNSUPPORTED_DIGEST", `unsupported digest algorithm ${JSON.stringify(d.algorithm)}: want sha256 or sha512`);
  return d;
}

/** Starts a hash for the digest's algorithm; throws UNSUPPORTED_DIGEST for unknown ones. */
export function createHasher(algorithm: string): Hash {
  const known = KNOWN.get(algorithm);
  if (!known) throw new FerryError("UNSUPPORTED_DIGEST", `cannot verify digests of algorithm ${algorithm}`);
  return createHash(known.hash);
}

/** Digest of a byte string, `sha256` unless told otherwise. */
export function digestOf(bytes: Uint8Array, algorithm = "sha256"): string {
  return `${algorithm}:${createHasher(algorithm).update(bytes).digest("hex")}`;
}

/** Throws DIGEST_MISMATCH unless `bytes` hash to `expected`. */
export function verifyBytes(bytes: Uint8Array, expected: string, what = "content"): void {
  const d = parseDigest(expected);
  const got = digestOf(bytes, d.algorithm);
  if (got !== expected) {
    throw new FerryError("DIGEST_MISMATCH", `${what}: digest mismatch: expected ${expected}, got ${got}`);
  }
}

/**
 * Hashes and counts bytes as they pass; `finish()` throws on a size or digest mismatch.
 * `update()` throws as soon as more bytes than expected arrive, so a lying server is cut short.
 */
export class DigestVerifier {
  readonly expected: string;
  readonly expectedSize: number | undefined;
  private readonly hash: Hash;
  private count = 0;

  constructor(expected: string, expectedSize?: number) {
    this.expected = expected;
    this.expectedSize = expectedSize;
    this.hash = createHasher(parseDigest(expected).algorithm);
  }

  get bytes(): number {
    return this.count;
  }

  update(chunk: Uint8Array): void {
    this.count += chunk.byteLength;
    if (this.expectedSize !== undefined && this.count > this.expectedSize) {
      throw new FerryError("SIZE_MISMATCH", `${this.expected}: received more than the expected ${this.expectedSize} bytes`);
    }
    this.hash.update(chunk);
  }

  finish(): void {
    if (this.expectedSize !== undefined && this.count !== this.expectedSize) {
      throw new FerryError("SIZE_MISMATCH", `${this.expected}: size mismatch: expected ${this.expectedSize} bytes, got ${this.count}`);
    }
    const got = `${parseDigest(this.expected).algorithm}:${this.hash.digest("hex")}`;
    if (got !== this.expected) {
      throw new FerryError("DIGEST_MISMATCH", `digest mismatch: expected ${this.expected}, got ${got}`);
    }
  }
}
