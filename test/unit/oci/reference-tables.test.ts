/**
 * ferry's reference parser against distribution/reference's own test tables, kept as data.
 *
 * Source: github.com/distribution/reference at commit 0965666a6ade2e06035fe352e38344be1e68951a
 * (2026-04-18), files reference_test.go, normalize_test.go and regexp_test.go. Each table below
 * names the Go test function it comes from; rows are transcribed in order, field names as upstream
 * (`strings.Repeat(s, n)` written as `s.repeat(n)`). Expectations that ferry states differently
 * are mapped in code next to the table, never edited into the data:
 *
 * - ferry's Docker Hub convention (README, lib/oci/reference.ts): distribution's `docker.io` is
 *   ferry's `registry-1.docker.io` (the host the registry API answers on); `library/` is added to
 *   one-segment Hub names exactly as distribution does. {@link hub} maps one to the other.
 * - ferry's parseReference is distribution's ParseNormalizedNamed (docker's UI parser), never the
 *   un-normalised Parse: rows of Parse-only tables are checked in their normalised form.
 * - Deliberate differences are listed in {@link DIFFERENCES} with the reason, and tested as such.
 *
 * Every accepted row must also round-trip: the normal form parses back to an equal reference.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FerryError } from "../../../lib/errors.ts";
import { parseReference, parseRepository, type Reference } from "../../../lib/oci/reference.ts";

const F64 = "f".repeat(64);
const HUB = "registry-1.docker.io";

/** distribution's `docker.io/...` as ferry writes it (ferry's documented Docker Hub convention). */
const hub = (s: string) => (s === "docker.io" ? HUB : s.replace(/^docker\.io\//, `${HUB}/`));

const rejected = (input: string, parse: (s: string) => unknown = parseReference) =>
  assert.throws(
    () => parse(input),
    (e: unknown) => e instanceof FerryError && e.code === "INVALID_REFERENCE",
    `${JSON.stringify(input)} must be rejected with INVALID_REFERENCE`,
  );

/** Parses without the default tag (distribution's parsers add none) and checks the round trip. */
function parsed(input: string): Reference {
  const r = parseReference(input, { defaultTag: false });
  const again = parseReference(r.toString(), { defaultTag: false });
  assert.equal(again.toString(), r.toString(), `normal form of ${JSON.stringify(input)} must re-parse to itself`);
  assert.ok(again.equals(r));
  return r;
}

/**
 * Where ferry decides otherwise than distribution, and why. Keyed by input; the tests below look
 * each row up here before applying the upstream expectation.
 */
const DIFFERENCES: Record<string, string> = {
  // reference_test.go TestReferenceParse expects ErrDigestUnsupported only because the Go test
  // binary does not import crypto/sha512 (go-digest v1.0.0 registers nothing by itself); the
  // image-spec registers sha512, go-digest ≥ v1.0.1 registers it by default, docker and
  // containerd import it. ferry can verify it (node:crypto), so it accepts it.
  [`validname@sha512:${"f".repeat(128)}`]: "sha512 is a known algorithm in ferry",
  // normalize_test.go TestParseAnyReference: ParseAnyReference reads a bare 64-hex ID as a local
  // image ID, and `sha256:<hex>` as a digest-only reference. ferry copies named images between
  // registries; an image ID means nothing to a registry. A bare 64-hex is rejected (as
  // ParseNormalizedNamed does) and `sha256:<hex>` is a name with a tag (as ParseNormalizedNamed).
  dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c: "a bare 64-hex ID is rejected",
  "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c": "parsed as ParseNormalizedNamed: library/sha256 tagged with the hex",
  // normalize_test.go TestParseDockerRef: ParseDockerRef drops the tag of `name:tag@digest`.
  // ferry keeps both: it pulls by the digest (manifestRef) and keeps the tag to name the
  // destination tag and for messages.
  "gcr.io/library/busybox:latest@sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582": "ferry keeps the tag next to the digest",
  // reference_test.go TestWithTag/TestWithDigest: WithDigest takes a digest.Digest without
  // validating it ("sha256:" + 37 hex). A ferry reference always carries a digest it can verify,
  // so attaching a malformed digest is refused.
  "sha256:1234567890098765432112345667890098765": "a malformed sha256 digest cannot be attached",
  // regexp_test.go TestFullNameRegexp: the name regexp does not count characters; Parse and
  // ParseNormalizedNamed then reject a path over 255 (ErrNameTooLong), and so does ferry.
  [`${"a/".repeat(128)}a`]: "longer than 255 characters: the regexp matches, the parser rejects",
};

/** reference_test.go TestReferenceParse (Parse: `domain` is "" when the name has no domain part). */
const referenceParse: Array<{ input: string; err?: string; repository?: string; domain?: string; tag?: string; digest?: string }> = [
  { input: "test_com", repository: "test_com" },
  { input: "test.com:tag", repository: "test.com", tag: "tag" },
  { input: "test.com:5000", repository: "test.com", tag: "5000" },
  { input: "test.com/repo:tag", domain: "test.com", repository: "test.com/repo", tag: "tag" },
  { input: "test:5000/repo", domain: "test:5000", repository: "test:5000/repo" },
  { input: "test:5000/repo:tag", domain: "test:5000", repository: "test:5000/repo", tag: "tag" },
  { input: `test:5000/repo@sha256:${F64}`, domain: "test:5000", repository: "test:5000/repo", digest: `sha256:${F64}` },
  { input: `test:5000/repo:tag@sha256:${F64}`, domain: "test:5000", repository: "test:5000/repo", tag: "tag", digest: `sha256:${F64}` },
  { input: "test:5000/repo", domain: "test:5000", repository: "test:5000/repo" },
  { input: "", err: "ErrNameEmpty" },
  { input: ":justtag", err: "ErrReferenceInvalidFormat" },
  { input: `@sha256:${F64}`, err: "ErrReferenceInvalidFormat" },
  { input: "repo@sha256:ffffffffffffffffffffffffffffffffff", err: "digest.ErrDigestInvalidLength" },
  { input: `validname@invaliddigest:${F64}`, err: "digest.ErrDigestUnsupported" },
  { input: `validname@sha512:${"f".repeat(128)}`, err: "digest.ErrDigestUnsupported" },
  { input: "Uppercase:tag", err: "ErrNameContainsUppercase" },
  { input: "test:5000/Uppercase/lowercase:tag", err: "ErrNameContainsUppercase" },
  { input: "lowercase:Uppercase", repository: "lowercase", tag: "Uppercase" },
  { input: `domain/${"a".repeat(256)}:tag`, err: "ErrNameTooLong" },
  { input: `${"a/".repeat(127)}a:tag-puts-this-over-max`, domain: "a", repository: `${"a/".repeat(127)}a`, tag: "tag-puts-this-over-max" },
  { input: "aa/asdf$$^/aa", err: "ErrReferenceInvalidFormat" },
  { input: "sub-dom1.foo.com/bar/baz/quux", domain: "sub-dom1.foo.com", repository: "sub-dom1.foo.com/bar/baz/quux" },
  { input: "sub-dom1.foo.com/bar/baz/quux:some-long-tag", domain: "sub-dom1.foo.com", repository: "sub-dom1.foo.com/bar/baz/quux", tag: "some-long-tag" },
  { input: "b.gcr.io/test.example.com/my-app:test.example.com", domain: "b.gcr.io", repository: "b.gcr.io/test.example.com/my-app", tag: "test.example.com" },
  { input: "xn--n3h.com/myimage:xn--n3h.com", domain: "xn--n3h.com", repository: "xn--n3h.com/myimage", tag: "xn--n3h.com" },
  {
    input: `xn--7o8h.com/myimage:xn--7o8h.com@sha256:${F64}`,
    domain: "xn--7o8h.com",
    repository: "xn--7o8h.com/myimage",
    tag: "xn--7o8h.com",
    digest: `sha256:${F64}`,
  },
  { input: "foo_bar.com:8080", repository: "foo_bar.com", tag: "8080" },
  { input: "foo/foo_bar.com:8080", domain: "foo", repository: "foo/foo_bar.com", tag: "8080" },
  { input: "192.168.1.1", repository: "192.168.1.1" },
  { input: "192.168.1.1:tag", repository: "192.168.1.1", tag: "tag" },
  { input: "192.168.1.1:5000", repository: "192.168.1.1", tag: "5000" },
  { input: "192.168.1.1/repo", domain: "192.168.1.1", repository: "192.168.1.1/repo" },
  { input: "192.168.1.1:5000/repo", domain: "192.168.1.1:5000", repository: "192.168.1.1:5000/repo" },
  { input: "192.168.1.1:5000/repo:5050", domain: "192.168.1.1:5000", repository: "192.168.1.1:5000/repo", tag: "5050" },
  { input: "[2001:db8::1]", err: "ErrReferenceInvalidFormat" },
  { input: "[2001:db8::1]:5000", err: "ErrReferenceInvalidFormat" },
  { input: "[2001:db8::1]:tag", err: "ErrReferenceInvalidFormat" },
  { input: "[2001:db8::1]/repo", domain: "[2001:db8::1]", repository: "[2001:db8::1]/repo" },
  { input: "[2001:db8:1:2:3:4:5:6]/repo:tag", domain: "[2001:db8:1:2:3:4:5:6]", repository: "[2001:db8:1:2:3:4:5:6]/repo", tag: "tag" },
  { input: "[2001:db8::1]:5000/repo", domain: "[2001:db8::1]:5000", repository: "[2001:db8::1]:5000/repo" },
  { input: "[2001:db8::1]:5000/repo:tag", domain: "[2001:db8::1]:5000", repository: "[2001:db8::1]:5000/repo", tag: "tag" },
  { input: `[2001:db8::1]:5000/repo@sha256:${F64}`, domain: "[2001:db8::1]:5000", repository: "[2001:db8::1]:5000/repo", digest: `sha256:${F64}` },
  {
    input: `[2001:db8::1]:5000/repo:tag@sha256:${F64}`,
    domain: "[2001:db8::1]:5000",
    repository: "[2001:db8::1]:5000/repo",
    tag: "tag",
    digest: `sha256:${F64}`,
  },
  { input: "[2001:db8::]:5000/repo", domain: "[2001:db8::]:5000", repository: "[2001:db8::]:5000/repo" },
  { input: "[::1]:5000/repo", domain: "[::1]:5000", repository: "[::1]:5000/repo" },
  { input: "[fe80::1%eth0]:5000/repo", err: "ErrReferenceInvalidFormat" },
  { input: "[fe80::1%@invalidzone]:5000/repo", err: "ErrReferenceInvalidFormat" },
  { input: `example.com/${"a".repeat(255)}:tag`, domain: "example.com", repository: `example.com/${"a".repeat(255)}`, tag: "tag" },
];

/**
 * Parse keeps a lowercase first component without '.' or ':' as the domain ("a", "foo");
 * ParseNormalizedNamed (splitDockerDomain) reads it as the first path component on Docker Hub.
 * These two rows are checked in that normalised form.
 */
const PARSE_DOMAIN_IS_A_HUB_PATH = new Set([`${"a/".repeat(127)}a:tag-puts-this-over-max`, "foo/foo_bar.com:8080"]);

/** The normalised registry and path of a TestReferenceParse row: no domain means Docker Hub (`library/` for one segment). */
function normalisedOf(row: (typeof referenceParse)[number]): { registry: string; path: string } {
  const name = row.repository ?? "";
  if (!row.domain || PARSE_DOMAIN_IS_A_HUB_PATH.has(row.input)) return { registry: HUB, path: name.includes("/") ? name : `library/${name}` };
  return { registry: row.domain, path: name.slice(row.domain.length + 1) };
}

describe("distribution/reference reference_test.go TestReferenceParse", () => {
  for (const row of referenceParse) {
    const label = row.input.length > 60 ? `${row.input.slice(0, 57)}…` : row.input;
    if (row.err && !DIFFERENCES[row.input]) {
      it(`rejects ${JSON.stringify(label)} (${row.err})`, () => rejected(row.input));
      continue;
    }
    it(`parses ${JSON.stringify(label)}${row.err ? ` (deliberately: ${DIFFERENCES[row.input]})` : ""}`, () => {
      const r = parsed(row.input);
      if (row.err) return; // the sha512 row: accepted, no upstream fields to compare
      const want = normalisedOf(row);
      assert.equal(r.registry, want.registry);
      assert.equal(r.repository, want.path);
      assert.equal(r.tagName, row.tag);
      assert.equal(r.digest, row.digest);
      // Parse's String() gives the input back; ferry's normal form does for names with a host.
      if (want.registry !== HUB) assert.equal(r.toString(), row.input);
    });
  }
});

/** reference_test.go TestWithNameFailure (WithName: a name, no tag or digest). */
const withNameFailure: Array<{ input: string; err: string }> = [
  { input: "", err: "ErrReferenceInvalidFormat" },
  { input: ":justtag", err: "ErrReferenceInvalidFormat" },
  { input: `@sha256:${F64}`, err: "ErrReferenceInvalidFormat" },
  { input: `validname@invaliddigest:${F64}`, err: "ErrReferenceInvalidFormat" },
  { input: "example.com/repo:tag", err: "ErrReferenceInvalidFormat" },
  { input: `example.com/${"a".repeat(256)}`, err: "ErrNameTooLong" },
  { input: "aa/asdf$$^/aa", err: "ErrReferenceInvalidFormat" },
];

/** reference_test.go TestDomainAndPath (WithName). */
const domainAndPath: Array<{ input: string; domain: string; path: string }> = [
  { input: "test.com/foo", domain: "test.com", path: "foo" },
  { input: "test_com/foo", domain: "", path: "test_com/foo" },
  { input: "test:8080/foo", domain: "test:8080", path: "foo" },
  { input: "test.com:8080/foo", domain: "test.com:8080", path: "foo" },
  { input: "test-com:8080/foo", domain: "test-com:8080", path: "foo" },
  { input: "xn--n3h.com:18080/foo", domain: "xn--n3h.com:18080", path: "foo" },
];

describe("distribution/reference reference_test.go TestWithNameFailure and TestDomainAndPath (parseRepository)", () => {
  for (const row of withNameFailure) {
    it(`rejects the repository ${JSON.stringify(row.input.slice(0, 60))} (${row.err})`, () => rejected(row.input, parseRepository));
  }
  for (const row of domainAndPath) {
    it(`splits ${row.input}`, () => {
      const repo = parseRepository(row.input);
      // WithName keeps no domain for "test_com/foo"; normalised, that is Docker Hub.
      assert.equal(repo.registry, row.domain === "" ? HUB : row.domain);
      assert.equal(repo.path, row.path);
    });
  }
});

/** reference_test.go TestSerialization (the valid rows; the empty one is ErrNameEmpty). */
const serialization: Array<{ description: string; input: string; name?: string; tag?: string; digest?: string; err?: string }> = [
  { description: "empty value", input: "", err: "ErrNameEmpty" },
  { description: "just a name", input: "example.com:8000/named", name: "example.com:8000/named" },
  { description: "name with a tag", input: "example.com:8000/named:tagged", name: "example.com:8000/named", tag: "tagged" },
  {
    description: "name with digest",
    input: "other.com/named@sha256:1234567890098765432112345667890098765432112345667890098765432112",
    name: "other.com/named",
    digest: "sha256:1234567890098765432112345667890098765432112345667890098765432112",
  },
];

describe("distribution/reference reference_test.go TestSerialization", () => {
  for (const row of serialization) {
    it(row.description, () => {
      if (row.err) return rejected(row.input);
      const r = parsed(row.input);
      assert.equal(r.withoutTag().toString(), row.name);
      assert.equal(r.tagName, row.tag);
      assert.equal(r.digest, row.digest);
      assert.equal(r.toString(), row.input);
    });
  }
});

/** reference_test.go TestWithTag and TestWithDigest. */
const withTag: Array<{ name: string; digest?: string; tag?: string; combined: string }> = [
  { name: "test.com/foo", tag: "tag", combined: "test.com/foo:tag" },
  { name: "foo", tag: "tag2", combined: "foo:tag2" },
  { name: "test.com:8000/foo", tag: "tag4", combined: "test.com:8000/foo:tag4" },
  { name: "test.com:8000/foo", tag: "TAG5", combined: "test.com:8000/foo:TAG5" },
  {
    name: "test.com:8000/foo",
    digest: "sha256:1234567890098765432112345667890098765",
    tag: "TAG5",
    combined: "test.com:8000/foo:TAG5@sha256:1234567890098765432112345667890098765",
  },
];
const withDigest: Array<{ name: string; digest: string; tag?: string; combined: string }> = [
  { name: "test.com/foo", digest: "sha256:1234567890098765432112345667890098765", combined: "test.com/foo@sha256:1234567890098765432112345667890098765" },
  { name: "foo", digest: "sha256:1234567890098765432112345667890098765", combined: "foo@sha256:1234567890098765432112345667890098765" },
  {
    name: "test.com:8000/foo",
    digest: "sha256:1234567890098765432112345667890098765",
    combined: "test.com:8000/foo@sha256:1234567890098765432112345667890098765",
  },
  {
    name: "test.com:8000/foo",
    digest: "sha256:1234567890098765432112345667890098765",
    tag: "latest",
    combined: "test.com:8000/foo:latest@sha256:1234567890098765432112345667890098765",
  },
];

describe("distribution/reference reference_test.go TestWithTag and TestWithDigest (Repository.tagged / Repository.at)", () => {
  for (const row of [...withTag, ...withDigest]) {
    it(row.combined, () => {
      const repo = parseRepository(row.name);
      if (row.digest) {
        assert.ok(DIFFERENCES[row.digest]);
        assert.throws(
          () => repo.at(row.digest as string, row.tag),
          (e: unknown) => e instanceof FerryError && e.code === "INVALID_REFERENCE",
        );
        return;
      }
      // "foo" is Docker Hub's library/foo: the combined form is mapped by the Hub convention.
      const want = row.name.includes("/") ? row.combined : `docker.io/library/${row.combined}`;
      assert.equal(repo.tagged(row.tag as string).toString(), hub(want));
    });
  }
});

/** reference_test.go TestParseNamed (ParseNamed: ParseNormalizedNamed whose String() is the input). */
const parseNamed: Array<{ input: string; domain?: string; path?: string; err?: string }> = [
  { input: "test.com/foo", domain: "test.com", path: "foo" },
  { input: "test:8080/foo", domain: "test:8080", path: "foo" },
  { input: "test_com/foo", err: "ErrNameNotCanonical" },
  { input: "test.com", err: "ErrNameNotCanonical" },
  { input: "foo", err: "ErrNameNotCanonical" },
  { input: "library/foo", err: "ErrNameNotCanonical" },
  { input: "docker.io/library/foo", domain: "docker.io", path: "library/foo" },
  { input: "docker.io/foo", err: "ErrNameNotCanonical" },
];

describe("distribution/reference reference_test.go TestParseNamed (the normal form is canonical)", () => {
  for (const row of parseNamed) {
    it(`${row.input} is ${row.err ? "not " : ""}in normal form`, () => {
      const r = parsed(row.input);
      // ErrNameNotCanonical ⇔ the normal form differs from the input (Hub convention mapped).
      assert.equal(r.toString() === hub(row.input), !row.err);
      if (!row.err) {
        assert.equal(r.registry, hub(row.domain as string));
        assert.equal(r.repository, row.path);
      }
    });
  }
});

/** normalize_test.go TestValidateReferenceName (ParseNormalizedNamed). */
const validRepoNames = [
  "docker/docker",
  "library/debian",
  "debian",
  "localhost/library/debian",
  "localhost/debian",
  "LOCALDOMAIN/library/debian",
  "LOCALDOMAIN/debian",
  "docker.io/docker/docker",
  "docker.io/library/debian",
  "docker.io/debian",
  "index.docker.io/docker/docker",
  "index.docker.io/library/debian",
  "index.docker.io/debian",
  "127.0.0.1:5000/docker/docker",
  "127.0.0.1:5000/library/debian",
  "127.0.0.1:5000/debian",
  "192.168.0.1",
  "192.168.0.1:80",
  "192.168.0.1:8/debian",
  "192.168.0.2:25000/debian",
  "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
  "[fc00::1]:5000/docker",
  "[fc00::1]:5000/docker/docker",
  "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
  "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
  "Docker/docker",
  "DOCKER/docker",
];
const invalidRepoNames = [
  "https://github.com/docker/docker",
  "docker/Docker",
  "-docker",
  "-docker/docker",
  "-docker.io/docker/docker",
  "docker///docker",
  "docker.io/docker/Docker",
  "docker.io/docker///docker",
  "[fc00::1]",
  "[fc00::1]:5000",
  "fc00::1:5000/debian",
  "[fe80::1%eth0]:5000/debian",
  "[2001:db8:3:4::192.0.2.33]:5000/debian",
  "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
];

/** normalize_test.go TestValidateRemoteName (ParseNormalizedNamed). */
const validRepositoryNames = [
  "docker/docker",
  "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
  "docker-rules/docker",
  "docker---rules/docker",
  "doc/docker",
  "d/docker",
  "jess/t",
  "dock__er/docker",
];
const invalidRepositoryNames = [
  "docker/Docker",
  "docker///docker",
  "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
  "-docker/docker",
  "docker-/docker",
  "-docker-/docker",
  "____/____",
  "_docker/_docker",
  "dock..er/docker",
  "dock_.er/docker",
  "dock-.er/docker",
  "docker/",
  "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255/docker",
];

describe("distribution/reference normalize_test.go TestValidateReferenceName and TestValidateRemoteName", () => {
  for (const name of [...validRepoNames, ...validRepositoryNames]) it(`accepts ${name}`, () => void parsed(name));
  for (const name of [...invalidRepoNames, ...invalidRepositoryNames]) it(`rejects ${name.slice(0, 70)}`, () => rejected(name));
});

/** normalize_test.go TestParseRepositoryInfo. */
const repositoryInfo: Array<{ RemoteName: string; FamiliarName: string; FullName: string; AmbiguousName: string; Domain: string }> = [
  { RemoteName: "fooo", FamiliarName: "localhost/fooo", FullName: "localhost/fooo", AmbiguousName: "localhost/fooo", Domain: "localhost" },
  { RemoteName: "fooo/bar", FamiliarName: "localhost/fooo/bar", FullName: "localhost/fooo/bar", AmbiguousName: "localhost/fooo/bar", Domain: "localhost" },
  { RemoteName: "fooo", FamiliarName: "LOCALDOMAIN/fooo", FullName: "LOCALDOMAIN/fooo", AmbiguousName: "LOCALDOMAIN/fooo", Domain: "LOCALDOMAIN" },
  {
    RemoteName: "fooo/bar",
    FamiliarName: "LOCALDOMAIN/fooo/bar",
    FullName: "LOCALDOMAIN/fooo/bar",
    AmbiguousName: "LOCALDOMAIN/fooo/bar",
    Domain: "LOCALDOMAIN",
  },
  { RemoteName: "fooo/bar", FamiliarName: "fooo/bar", FullName: "docker.io/fooo/bar", AmbiguousName: "index.docker.io/fooo/bar", Domain: "docker.io" },
  { RemoteName: "library/ubuntu", FamiliarName: "ubuntu", FullName: "docker.io/library/ubuntu", AmbiguousName: "library/ubuntu", Domain: "docker.io" },
  { RemoteName: "nonlibrary/ubuntu", FamiliarName: "nonlibrary/ubuntu", FullName: "docker.io/nonlibrary/ubuntu", AmbiguousName: "", Domain: "docker.io" },
  { RemoteName: "other/library", FamiliarName: "other/library", FullName: "docker.io/other/library", AmbiguousName: "", Domain: "docker.io" },
  {
    RemoteName: "private/moonbase",
    FamiliarName: "127.0.0.1:8000/private/moonbase",
    FullName: "127.0.0.1:8000/private/moonbase",
    AmbiguousName: "",
    Domain: "127.0.0.1:8000",
  },
  {
    RemoteName: "privatebase",
    FamiliarName: "127.0.0.1:8000/privatebase",
    FullName: "127.0.0.1:8000/privatebase",
    AmbiguousName: "",
    Domain: "127.0.0.1:8000",
  },
  {
    RemoteName: "private/moonbase",
    FamiliarName: "example.com/private/moonbase",
    FullName: "example.com/private/moonbase",
    AmbiguousName: "",
    Domain: "example.com",
  },
  { RemoteName: "privatebase", FamiliarName: "example.com/privatebase", FullName: "example.com/privatebase", AmbiguousName: "", Domain: "example.com" },
  {
    RemoteName: "private/moonbase",
    FamiliarName: "example.com:8000/private/moonbase",
    FullName: "example.com:8000/private/moonbase",
    AmbiguousName: "",
    Domain: "example.com:8000",
  },
  {
    RemoteName: "privatebasee",
    FamiliarName: "example.com:8000/privatebasee",
    FullName: "example.com:8000/privatebasee",
    AmbiguousName: "",
    Domain: "example.com:8000",
  },
  {
    RemoteName: "library/ubuntu-12.04-base",
    FamiliarName: "ubuntu-12.04-base",
    FullName: "docker.io/library/ubuntu-12.04-base",
    AmbiguousName: "index.docker.io/library/ubuntu-12.04-base",
    Domain: "docker.io",
  },
  { RemoteName: "library/foo", FamiliarName: "foo", FullName: "docker.io/library/foo", AmbiguousName: "docker.io/foo", Domain: "docker.io" },
  { RemoteName: "library/foo/bar", FamiliarName: "library/foo/bar", FullName: "docker.io/library/foo/bar", AmbiguousName: "", Domain: "docker.io" },
  { RemoteName: "store/foo/bar", FamiliarName: "store/foo/bar", FullName: "docker.io/store/foo/bar", AmbiguousName: "", Domain: "docker.io" },
  { RemoteName: "bar", FamiliarName: "Foo/bar", FullName: "Foo/bar", AmbiguousName: "", Domain: "Foo" },
  { RemoteName: "bar", FamiliarName: "FOO/bar", FullName: "FOO/bar", AmbiguousName: "", Domain: "FOO" },
];

describe("distribution/reference normalize_test.go TestParseRepositoryInfo", () => {
  repositoryInfo.forEach((tc, i) => {
    for (const r of [tc.FamiliarName, tc.FullName, ...(tc.AmbiguousName ? [tc.AmbiguousName] : [])]) {
      it(`${i}/${r}`, () => {
        const named = parsed(r);
        assert.equal(named.toString(), hub(tc.FullName));
        assert.equal(named.registry, hub(tc.Domain));
        assert.equal(named.repository, tc.RemoteName);
      });
    }
  });
});

describe("distribution/reference normalize_test.go TestParseReferenceWithTagAndDigest and TestInvalidReferenceComponents", () => {
  it("keeps both tag and digest of busybox:latest@sha256:…", () => {
    const shortRef = "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
    const ref = parsed(shortRef);
    assert.equal(ref.toString(), hub(`docker.io/library/${shortRef}`));
    assert.equal(ref.tagName, "latest");
    assert.equal(ref.digest, "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa");
  });
  it("rejects -foo as a name, -foo as a tag and foo as a digest", () => {
    rejected("-foo");
    const ref = parsed("busybox");
    assert.throws(
      () => ref.withTag("-foo"),
      (e: unknown) => e instanceof FerryError && e.code === "INVALID_REFERENCE",
    );
    assert.throws(
      () => ref.withDigest("foo"),
      (e: unknown) => e instanceof FerryError && e.code === "INVALID_REFERENCE",
    );
  });
});

/** normalize_test.go TestParseAnyReference. */
const parseAnyReference: Array<{ Reference: string; Equivalent: string; Expected?: string }> = [
  { Reference: "redis", Equivalent: "docker.io/library/redis" },
  { Reference: "redis:latest", Equivalent: "docker.io/library/redis:latest" },
  { Reference: "docker.io/library/redis:latest", Equivalent: "docker.io/library/redis:latest" },
  {
    Reference: "redis@sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c",
    Equivalent: "docker.io/library/redis@sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c",
  },
  {
    Reference: "docker.io/library/redis@sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c",
    Equivalent: "docker.io/library/redis@sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c",
  },
  { Reference: "dmcgowan/myapp", Equivalent: "docker.io/dmcgowan/myapp" },
  { Reference: "dmcgowan/myapp:latest", Equivalent: "docker.io/dmcgowan/myapp:latest" },
  { Reference: "docker.io/mcgowan/myapp:latest", Equivalent: "docker.io/mcgowan/myapp:latest" },
  {
    Reference: "dmcgowan/myapp@sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c",
    Equivalent: "docker.io/dmcgowan/myapp@sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c",
  },
  {
    Reference: "docker.io/dmcgowan/myapp@sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c",
    Equivalent: "docker.io/dmcgowan/myapp@sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c",
  },
  {
    Reference: "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c",
    Expected: 'digestReference("sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c")',
    Equivalent: "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c",
  },
  {
    Reference: "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c",
    Expected: 'digestReference("sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c")',
    Equivalent: "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c",
  },
  {
    Reference: "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9",
    Equivalent: "docker.io/library/dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9",
  },
  { Reference: "dbcc1", Equivalent: "docker.io/library/dbcc1" },
];

describe("distribution/reference normalize_test.go TestParseAnyReference", () => {
  for (const tc of parseAnyReference) {
    it(`${tc.Reference}${DIFFERENCES[tc.Reference] ? ` (deliberately: ${DIFFERENCES[tc.Reference]})` : ""}`, () => {
      if (tc.Expected === undefined) return assert.equal(parsed(tc.Reference).toString(), hub(tc.Equivalent));
      assert.ok(DIFFERENCES[tc.Reference]);
      if (/^[a-f0-9]{64}$/.test(tc.Reference)) return rejected(tc.Reference);
      const r = parsed(tc.Reference);
      assert.equal(r.toString(), `${HUB}/library/${tc.Reference}`);
      assert.equal(r.digest, undefined);
    });
  }
});

/** normalize_test.go TestNormalizedSplitHostname. */
const normalizedSplitHostname: Array<{ input: string; domain: string; path: string }> = [
  { input: "test.com/foo", domain: "test.com", path: "foo" },
  { input: "test_com/foo", domain: "docker.io", path: "test_com/foo" },
  { input: "docker/migrator", domain: "docker.io", path: "docker/migrator" },
  { input: "test.com:8080/foo", domain: "test.com:8080", path: "foo" },
  { input: "test-com:8080/foo", domain: "test-com:8080", path: "foo" },
  { input: "foo", domain: "docker.io", path: "library/foo" },
  { input: "xn--n3h.com/foo", domain: "xn--n3h.com", path: "foo" },
  { input: "xn--n3h.com:18080/foo", domain: "xn--n3h.com:18080", path: "foo" },
  { input: "docker.io/foo", domain: "docker.io", path: "library/foo" },
  { input: "docker.io/library/foo", domain: "docker.io", path: "library/foo" },
  { input: "docker.io/library/foo/bar", domain: "docker.io", path: "library/foo/bar" },
];

describe("distribution/reference normalize_test.go TestNormalizedSplitHostname", () => {
  for (const tc of normalizedSplitHostname) {
    it(tc.input, () => {
      const r = parsed(tc.input);
      assert.equal(r.registry, hub(tc.domain));
      assert.equal(r.repository, tc.path);
    });
  }
});

/** normalize_test.go TestParseDockerRef (ParseDockerRef adds `latest`, as ferry's default tag does). */
const parseDockerRef: Array<{ name: string; input: string; expected: string }> = [
  { name: "nothing", input: "busybox", expected: "docker.io/library/busybox:latest" },
  { name: "tag only", input: "busybox:latest", expected: "docker.io/library/busybox:latest" },
  {
    name: "digest only",
    input: "busybox@sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582",
    expected: "docker.io/library/busybox@sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582",
  },
  { name: "path only", input: "library/busybox", expected: "docker.io/library/busybox:latest" },
  { name: "hostname only", input: "docker.io/busybox", expected: "docker.io/library/busybox:latest" },
  { name: "no tag", input: "docker.io/library/busybox", expected: "docker.io/library/busybox:latest" },
  { name: "no path", input: "docker.io/busybox:latest", expected: "docker.io/library/busybox:latest" },
  { name: "no hostname", input: "library/busybox:latest", expected: "docker.io/library/busybox:latest" },
  { name: "full reference with tag", input: "docker.io/library/busybox:latest", expected: "docker.io/library/busybox:latest" },
  { name: "gcr reference without tag", input: "gcr.io/library/busybox", expected: "gcr.io/library/busybox:latest" },
  {
    name: "both tag and digest",
    input: "gcr.io/library/busybox:latest@sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582",
    expected: "gcr.io/library/busybox@sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582",
  },
];

describe("distribution/reference normalize_test.go TestParseDockerRef (parseReference with its default tag)", () => {
  for (const tc of parseDockerRef) {
    it(`${tc.name}${DIFFERENCES[tc.input] ? ` (deliberately: ${DIFFERENCES[tc.input]})` : ""}`, () => {
      const r = parseReference(tc.input);
      assert.ok(parseReference(r.toString()).equals(r));
      if (!DIFFERENCES[tc.input]) return assert.equal(r.toString(), hub(tc.expected));
      assert.equal(r.toString(), tc.input);
      assert.equal(r.manifestRef, tc.expected.slice(tc.expected.indexOf("@") + 1), "pulled by the digest ParseDockerRef keeps");
      assert.equal(
        r
          .withoutTag()
          .withDigest(r.digest as string)
          .toString(),
        tc.expected,
      );
    });
  }
});

/** regexp_test.go TestReferenceRegexp: `subs` are the name, tag and digest submatches. */
const referenceRegexp: Array<{ input: string; match: boolean; subs?: [string, string, string] }> = [
  { input: "registry.com:8080/myapp:tag", match: true, subs: ["registry.com:8080/myapp", "tag", ""] },
  {
    input: "registry.com:8080/myapp@sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912",
    match: true,
    subs: ["registry.com:8080/myapp", "", "sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912"],
  },
  {
    input: "registry.com:8080/myapp:tag2@sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912",
    match: true,
    subs: ["registry.com:8080/myapp", "tag2", "sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912"],
  },
  { input: "registry.com:8080/myapp@sha256:badbadbadbad", match: false },
  { input: "registry.com:8080/myapp:invalid~tag", match: false },
  { input: "bad_hostname.com:8080/myapp:tag", match: false },
  {
    input: "localhost:8080@sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912",
    match: true,
    subs: ["localhost", "8080", "sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912"],
  },
  {
    input: "localhost:8080/name@sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912",
    match: true,
    subs: ["localhost:8080/name", "", "sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912"],
  },
  { input: "localhost:http/name@sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912", match: false },
  {
    input: "localhost@sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912",
    match: true,
    subs: ["localhost", "", "sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912"],
  },
  { input: "registry.com:8080/myapp@bad", match: false },
  { input: "registry.com:8080/myapp@2bad", match: false },
];

describe("distribution/reference regexp_test.go TestReferenceRegexp (parseReference)", () => {
  for (const tc of referenceRegexp) {
    it(`${tc.match ? "accepts" : "rejects"} ${tc.input}`, () => {
      if (!tc.subs) return rejected(tc.input);
      const [name, tag, digest] = tc.subs;
      const r = parsed(tc.input);
      // A bare "localhost" is a one-segment Docker Hub name for ParseNormalizedNamed (splitDockerDomain's FIXME).
      assert.equal(r.withoutTag().toString(), name.includes("/") ? name : `${HUB}/library/${name}`);
      assert.equal(r.tagName, tag || undefined);
      assert.equal(r.digest, digest || undefined);
    });
  }
});

/** regexp_test.go TestIdentifierRegexp: a match is an image ID, which ParseNormalizedNamed refuses as a name. */
const identifierRegexp: Array<{ input: string; match: boolean }> = [
  { input: "da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821", match: true },
  { input: "7EC43B381E5AEFE6E04EFB0B3F0693FF2A4A50652D64AEC573905F2DB5889A1C", match: false },
  { input: "da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf", match: false },
  { input: "sha256:da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821", match: false },
  { input: "da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf98218482", match: false },
];

describe("distribution/reference regexp_test.go TestIdentifierRegexp (an ID is not a name)", () => {
  for (const tc of identifierRegexp) {
    it(`${tc.input.slice(0, 24)}… is ${tc.match ? "an ID: rejected" : "not an ID"}`, () => {
      // Not an ID, "7EC4…" still fails as a name: uppercase (ParseNormalizedNamed's lowercase check).
      if (tc.match || tc.input !== tc.input.toLowerCase()) return rejected(tc.input);
      assert.ok(parsed(tc.input).repository.startsWith("library/"));
    });
  }
});

/** regexp_test.go TestDomainRegexp, each input checked as the domain of `INPUT/repo`. */
const domainRegexp: Array<{ input: string; match: boolean }> = [
  { input: "test.com", match: true },
  { input: "test.com:10304", match: true },
  { input: "test.com:http", match: false },
  { input: "localhost", match: true },
  { input: "localhost:8080", match: true },
  { input: "a", match: true },
  { input: "a.b", match: true },
  { input: "ab.cd.com", match: true },
  { input: "a-b.com", match: true },
  { input: "-ab.com", match: false },
  { input: "ab-.com", match: false },
  { input: "ab.c-om", match: true },
  { input: "ab.-com", match: false },
  { input: "ab.com-", match: false },
  { input: "0101.com", match: true },
  { input: "001a.com", match: true },
  { input: "b.gbc.io:443", match: true },
  { input: "b.gbc.io", match: true },
  { input: "xn--n3h.com", match: true },
  { input: "Asdf.com", match: true },
  { input: "192.168.1.1:75050", match: true },
  { input: "192.168.1.1:750050", match: true },
  { input: "[fd00:1:2::3]:75050", match: true },
  { input: "[fd00:1:2::3]75050", match: false },
  { input: "[fd00:1:2::3]::75050", match: false },
  { input: "[fd00:1:2::3%eth0]:75050", match: false },
  { input: "[fd00123123123]:75050", match: true },
  { input: "[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:75050", match: true },
  { input: "[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:750505", match: true },
  { input: "fd00:1:2::3:75050", match: false },
];

describe("distribution/reference regexp_test.go TestDomainRegexp (as INPUT/repo)", () => {
  for (const tc of domainRegexp) {
    it(`${tc.match ? "accepts" : "rejects"} ${tc.input}/repo`, () => {
      const input = `${tc.input}/repo`;
      if (!tc.match) return rejected(input);
      const r = parsed(input);
      // "a" has no '.' or ':' and is lowercase: splitDockerDomain reads it as a Docker Hub path.
      // Like distribution, ferry checks the port's digits, not its range (the regexp_test "will fail on validation" rows).
      if (tc.input === "a") assert.deepEqual([r.registry, r.repository], [HUB, "a/repo"]);
      else assert.deepEqual([r.registry, r.repository], [tc.input, "repo"]);
    });
  }
});

/** regexp_test.go TestFullNameRegexp, each input checked as a repository name (parseRepository). */
const fullNameRegexp: Array<{ input: string; match: boolean }> = [
  { input: "", match: false },
  { input: "short", match: true },
  { input: "simple/name", match: true },
  { input: "library/ubuntu", match: true },
  { input: "docker/stevvooe/app", match: true },
  { input: "aa/aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb", match: true },
  { input: "aa/aa/bb/bb/bb", match: true },
  { input: "a/a/a/a", match: true },
  { input: "a/a/a/a/", match: false },
  { input: "a//a/a", match: false },
  { input: "a", match: true },
  { input: "a/aa", match: true },
  { input: "a/aa/a", match: true },
  { input: "foo.com", match: true },
  { input: "foo.com/", match: false },
  { input: "foo.com:8080/bar", match: true },
  { input: "foo.com:http/bar", match: false },
  { input: "foo.com/bar", match: true },
  { input: "foo.com/bar/baz", match: true },
  { input: "localhost:8080/bar", match: true },
  { input: "sub-dom1.foo.com/bar/baz/quux", match: true },
  { input: "blog.foo.com/bar/baz", match: true },
  { input: "a^a", match: false },
  { input: "aa/asdf$$^/aa", match: false },
  { input: "asdf$$^/aa", match: false },
  { input: "aa-a/a", match: true },
  { input: `${"a/".repeat(128)}a`, match: true },
  { input: "a-/a/a/a", match: false },
  { input: "foo.com/a-/a/a", match: false },
  { input: "-foo/bar", match: false },
  { input: "foo/bar-", match: false },
  { input: "foo-/bar", match: false },
  { input: "foo/-bar", match: false },
  { input: "_foo/bar", match: false },
  { input: "foo_bar", match: true },
  { input: "foo_bar.com", match: true },
  { input: "foo_bar.com:8080", match: false },
  { input: "foo_bar.com:8080/app", match: false },
  { input: "foo.com/foo_bar", match: true },
  { input: "____/____", match: false },
  { input: "_docker/_docker", match: false },
  { input: "docker_/docker_", match: false },
  { input: "b.gcr.io/test.example.com/my-app", match: true },
  { input: "xn--n3h.com/myimage", match: true },
  { input: "xn--7o8h.com/myimage", match: true },
  { input: "example.com/xn--7o8h.com/myimage", match: true },
  { input: "example.com/some_separator__underscore/myimage", match: true },
  { input: "example.com/__underscore/myimage", match: false },
  { input: "example.com/..dots/myimage", match: false },
  { input: "example.com/.dots/myimage", match: false },
  { input: "example.com/nodouble..dots/myimage", match: false },
  { input: "example.com/nodouble..dots/myimage", match: false },
  { input: "docker./docker", match: false },
  { input: ".docker/docker", match: false },
  { input: "docker-/docker", match: false },
  { input: "-docker/docker", match: false },
  { input: "do..cker/docker", match: false },
  { input: "do__cker:8080/docker", match: false },
  { input: "do__cker/docker", match: true },
  { input: "b.gcr.io/test.example.com/my-app", match: true },
  { input: "registry.io/foo/project--id.module--name.ver---sion--name", match: true },
  { input: "Asdf.com/foo/bar", match: true },
  { input: "Foo/FarB", match: false },
];

describe("distribution/reference regexp_test.go TestFullNameRegexp (parseRepository)", () => {
  for (const tc of fullNameRegexp) {
    const accept = tc.match && !DIFFERENCES[tc.input];
    it(`${accept ? "accepts" : "rejects"} ${JSON.stringify(tc.input.slice(0, 60))}${DIFFERENCES[tc.input] ? ` (${DIFFERENCES[tc.input]})` : ""}`, () => {
      if (!accept) return rejected(tc.input, parseRepository);
      const repo = parseRepository(tc.input);
      assert.ok(parseRepository(repo.toString()).equals(repo), "the repository's string re-parses to it");
    });
  }
});

describe("the rules the tables pin, beyond the rows", () => {
  it("counts the 255-character limit on the path, not the host (distribution's RepositoryNameTotalLengthMax)", () => {
    const long = `${"a".repeat(120)}/${"b".repeat(134)}`; // 255 characters
    assert.equal(parsed(`registry.example.com:5000/${long}`).repository, long);
    assert.equal(parsed(long).repository, long, "on Docker Hub too, and its normal form re-parses");
    rejected(`registry.example.com:5000/${long}b`);
    // "library/" counts: distribution adds it before checking the length.
    rejected(`docker.io/${"a".repeat(250)}`);
  });
});
