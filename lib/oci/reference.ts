/**
 * Image references as immutable values, parsed and normalised the way docker does:
 * `alpine:3` → `registry-1.docker.io/library/alpine:3`.
 * Grammar and rules: distribution/reference's ParseNormalizedNamed (reference.go, normalize.go,
 * regexp.go); test/unit/oci/reference-tables.test.ts runs its test tables, and lists where ferry
 * differs on purpose (Docker Hub is `registry-1.docker.io`; sha512 is known; tag and digest kept).
 */
import { invalidReference } from "../errors.ts";
import { type Digest, isDigest, parseDigest, parseKnownDigest } from "./digest.ts";

/** The host docker.io names resolve to for API calls. */
export const DOCKER_HUB_HOST = "registry-1.docker.io";
/** Every name Docker Hub goes by; references to any of them are normalised to {@link DOCKER_HUB_HOST}. */
export const DOCKER_HUB_ALIASES: ReadonlySet<string> = new Set(["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"]);

const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
// An IPv6 literal is hex and colons only: no zone, no embedded IPv4 (distribution's ipv6address).
const HOST_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
/** Characters of the repository path (host not counted, `library/` counted), as distribution's RepositoryNameTotalLengthMax. */
const MAX_PATH_LENGTH = 255;
/** A bare 64-hex string is an image ID, never a name (distribution's anchoredIdentifierRegexp). */
const IMAGE_ID_RE = /^[a-f0-9]{64}$/;

/** An image reference: registry host, repository, and a tag and/or digest. Immutable. */
export class Reference {
  /** The string this reference was parsed from, as given. */
  readonly original: string;
  /** Registry host with optional port, normalised (`registry-1.docker.io` for Docker Hub). */
  readonly registry: string;
  /** Repository path within the registry (`library/alpine`). */
  readonly repository: string;
  /** The tag as written (or defaulted to `latest`), if any. */
  readonly tagName: string | undefined;
  /** The digest, if any. */
  readonly digest: string | undefined;

  constructor(fields: { original?: string; registry: string; repository: string; tag?: string; digest?: string }) {
    this.registry = fields.registry;
    this.repository = fields.repository;
    this.tagName = fields.tag;
    this.digest = fields.digest;
    this.original = fields.original ?? this.toString();
    Object.freeze(this);
  }

  /** Repository path: `library/alpine` for `alpine:3`. */
  get name(): string {
    return this.repository;
  }

  /** The repository this reference names, as a value. */
  get repo(): Repository {
    return new Repository(this.registry, this.repository);
  }

  /** What to ask the registry for: the digest when there is one, else the tag. */
  get manifestRef(): string {
    const r = this.digest ?? this.tagName;
    if (!r) throw invalidReference(this.original, "has neither tag nor digest");
    return r;
  }

  /** Host name without port. */
  get hostname(): string {
    const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(this.registry);
    return m?.[1] ?? this.registry;
  }

  /** Port number, when the reference names one. */
  get port(): number | undefined {
    const m = /:(\d+)$/.exec(this.registry);
    return m && !this.registry.endsWith("]") ? Number(m[1]) : undefined;
  }

  /** True for Docker Hub references. */
  get isDockerHub(): boolean {
    return this.registry === DOCKER_HUB_HOST;
  }

  /** The parsed digest; throws INVALID_REFERENCE when the reference has none. */
  parsedDigest(): Digest {
    if (!this.digest) throw invalidReference(this.original, "has no digest");
    return parseDigest(this.digest);
  }

  /** `registry/repository`, without tag or digest. */
  withoutTag(): Reference {
    return new Reference({ registry: this.registry, repository: this.repository });
  }

  /** Same repository, this digest, no tag; INVALID_REFERENCE unless it is a digest ferry can verify. */
  withDigest(digest: string): Reference {
    checkDigest(digest, digest);
    return new Reference({ registry: this.registry, repository: this.repository, digest });
  }

  /** Same repository, this tag, no digest. */
  withTag(tag: string): Reference {
    if (!TAG_RE.test(tag)) throw invalidReference(tag, "invalid tag");
    return new Reference({ registry: this.registry, repository: this.repository, tag });
  }

  /** Same registry, another repository path (no tag or digest). */
  withRepository(repository: string): Reference {
    validateRepository(repository, repository);
    return new Reference({ registry: this.registry, repository });
  }

  /** Normalised form; parsing it gives an equal reference. */
  toString(): string {
    let s = `${this.registry}/${this.repository}`;
    if (this.tagName) s += `:${this.tagName}`;
    if (this.digest) s += `@${this.digest}`;
    return s;
  }

  /** Equal when the normalised forms are equal (`alpine:3` equals `docker.io/library/alpine:3`). */
  equals(other: Reference): boolean {
    return this.toString() === other.toString();
  }
}

/**
 * A repository on a registry (`host[:port]/path`), the identity that plans, queue messages and
 * tag leases carry. Immutable; `toString()` (and JSON) give the form {@link parseRepository} reads.
 */
export class Repository {
  readonly registry: string;
  readonly path: string;

  constructor(registry: string, path: string) {
    this.registry = registry;
    this.path = path;
    Object.freeze(this);
  }

  /** This repository at a tag. */
  tagged(tag: string): Reference {
    return new Reference({ registry: this.registry, repository: this.path }).withTag(tag);
  }

  /** This repository at a digest, still naming the tag it was found under when one is given. */
  at(digest: string, tag?: string): Reference {
    const ref = new Reference({ registry: this.registry, repository: this.path }).withDigest(digest);
    return tag === undefined ? ref : new Reference({ registry: this.registry, repository: this.path, tag: this.tagged(tag).tagName, digest: ref.digest });
  }

  /** `host/path:tag` for a tag, `host/path@digest` for a digest. */
  address(tagOrDigest: string): string {
    return `${this}${isDigest(tagOrDigest) ? "@" : ":"}${tagOrDigest}`;
  }

  toString(): string {
    return `${this.registry}/${this.path}`;
  }

  toJSON(): string {
    return this.toString();
  }

  equals(other: Repository): boolean {
    return this.registry === other.registry && this.path === other.path;
  }
}

/** Parses `host[:port]/path` (no tag, no digest) as {@link parseReference} normalises it. */
export function parseRepository(input: string): Repository {
  const ref = parseReference(input, { defaultTag: false });
  if (ref.tagName !== undefined || ref.digest !== undefined) throw invalidReference(input, "is a reference, want a repository (no tag or digest)");
  return ref.repo;
}

/** Options for {@link parseReference}. */
export interface ParseReferenceOptions {
  /** Add `latest` when neither tag nor digest is given (docker's behaviour). Default true. */
  defaultTag?: boolean;
}

/** Parses a reference the way docker does; throws INVALID_REFERENCE with the reason. */
export function parseReference(input: string, opts: ParseReferenceOptions = {}): Reference {
  if (input.length === 0) throw invalidReference(input, "empty");
  if (/\s/.test(input)) throw invalidReference(input, "contains whitespace");
  if (IMAGE_ID_RE.test(input)) throw invalidReference(input, "a 64-character hex string is an image ID, not a repository name");
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    checkDigest(input, digest);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) {
      throw invalidReference(input, `invalid tag ${JSON.stringify(tag)}: want [A-Za-z0-9_][A-Za-z0-9._-]{0,127}`);
    }
  }
  if (rest.length === 0) throw invalidReference(input, "missing repository name");

  let registry: string;
  let repository: string;
  const slash = rest.indexOf("/");
  const first = slash < 0 ? "" : rest.slice(0, slash);
  if (slash >= 0 && (first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase())) {
    registry = first;
    repository = rest.slice(slash + 1);
    if (!HOST_RE.test(registry)) throw invalidReference(input, `invalid registry host ${JSON.stringify(registry)}`);
  } else {
    registry = "docker.io";
    repository = rest;
  }
  if (DOCKER_HUB_ALIASES.has(registry.toLowerCase())) {
    registry = DOCKER_HUB_HOST;
    if (!repository.includes("/")) repository = `library/${repository}`;
  }
  validateRepository(input, repository);
  if (tag === undefined && digest === undefined && opts.defaultTag !== false) tag = "latest";
  return new Reference({ original: input, registry, repository, tag, digest });
}

/** A reference's digest: the OCI grammar, a known algorithm (sha256, sha512), the right length. */
function checkDigest(input: string, digest: string): void {
  if (!isDigest(digest)) throw invalidReference(input, `invalid digest ${JSON.stringify(digest)}`);
  try {
    parseKnownDigest(digest);
  } catch (e) {
    throw invalidReference(input, (e as Error).message);
  }
}

function validateRepository(input: string, repository: string): void {
  if (repository.length === 0) throw invalidReference(input, "missing repository name");
  if (repository.length > MAX_PATH_LENGTH) throw invalidReference(input, `repository path longer than ${MAX_PATH_LENGTH} characters`);
  for (const part of repository.split("/")) {
    if (part !== part.toLowerCase()) throw invalidReference(input, "repository name must be lowercase");
    if (!PATH_COMPONENT_RE.test(part)) {
      throw invalidReference(input, `invalid repository path component ${JSON.stringify(part)}: want [a-z0-9]+ separated by '.', '_', '__' or '-'`);
    }
  }
}

/** True when `tag` fits the tag grammar. */
export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** Splits a full reference `host/repo[:tag][@digest]` as a sender wrote it, without normalising or validating (webhook payloads: GAR, Harbor, CloudEvents). */
export function splitReferenceLoose(ref: string): { registry: string; repository: string; tag?: string; digest?: string } | undefined {
  const slash = ref.indexOf("/");
  if (slash <= 0) return undefined;
  const registry = ref.slice(0, slash).toLowerCase();
  let rest = ref.slice(slash + 1);
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    const d = rest.slice(at + 1).toLowerCase();
    digest = isDigest(d) ? d : undefined;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  if (!rest) return undefined;
  return { registry, repository: rest, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}
