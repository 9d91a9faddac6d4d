import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { FerryError } from "../../../lib/errors.ts";
import { parseReference, parseRepository, Repository } from "../../../lib/oci/reference.ts";

const D = "sha256:" + "a".repeat(64);

// input → [normalised, tag (never the digest), name, without tag, registry, port]
const table: Array<[string, string, string | undefined, string, string, string, number | undefined]> = [
  ["alpine:3", "registry-1.docker.io/library/alpine:3", "3", "library/alpine", "registry-1.docker.io/library/alpine", "registry-1.docker.io", undefined],
  [
    "alpine",
    "registry-1.docker.io/library/alpine:latest",
    "latest",
    "library/alpine",
    "registry-1.docker.io/library/alpine",
    "registry-1.docker.io",
    undefined,
  ],
  [
    "docker.io/library/alpine:3",
    "registry-1.docker.io/library/alpine:3",
    "3",
    "library/alpine",
    "registry-1.docker.io/library/alpine",
    "registry-1.docker.io",
    undefined,
  ],
  [
    "index.docker.io/alpine:3",
    "registry-1.docker.io/library/alpine:3",
    "3",
    "library/alpine",
    "registry-1.docker.io/library/alpine",
    "registry-1.docker.io",
    undefined,
  ],
  [
    "bitnami/redis:7.2",
    "registry-1.docker.io/bitnami/redis:7.2",
    "7.2",
    "bitnami/redis",
    "registry-1.docker.io/bitnami/redis",
    "registry-1.docker.io",
    undefined,
  ],
  ["ghcr.io/org/team/app:v1.0.0-rc.1", "ghcr.io/org/team/app:v1.0.0-rc.1", "v1.0.0-rc.1", "org/team/app", "ghcr.io/org/team/app", "ghcr.io", undefined],
  ["127.0.0.1:5000/a/b:t", "127.0.0.1:5000/a/b:t", "t", "a/b", "127.0.0.1:5000/a/b", "127.0.0.1:5000", 5000],
  ["localhost/app", "localhost/app:latest", "latest", "app", "localhost/app", "localhost", undefined],
  ["localhost:5000/app@" + D, `localhost:5000/app@${D}`, undefined, "app", "localhost:5000/app", "localhost:5000", 5000],
  ["quay.io/a/b:t@" + D, `quay.io/a/b:t@${D}`, "t", "a/b", "quay.io/a/b", "quay.io", undefined],
  ["[::1]:5000/x:y", "[::1]:5000/x:y", "y", "x", "[::1]:5000/x", "[::1]:5000", 5000],
  [
    "my-reg.example.com/a__b/c-d--e.f:T_1",
    "my-reg.example.com/a__b/c-d--e.f:T_1",
    "T_1",
    "a__b/c-d--e.f",
    "my-reg.example.com/a__b/c-d--e.f",
    "my-reg.example.com",
    undefined,
  ],
];

describe("parseReference", () => {
  for (const [input, normalised, tag, name, withoutTag, registry, port] of table) {
    it(`parses ${input}`, () => {
      const r = parseReference(input);
      assert.equal(r.original, input);
      assert.equal(r.toString(), normalised);
      assert.equal(r.tagName, tag);
      assert.equal(r.name, name);
      assert.equal(r.withoutTag().toString(), withoutTag);
      assert.equal(r.registry, registry);
      assert.equal(r.port, port);
      // toString() round-trips
      const again = parseReference(r.toString());
      assert.equal(again.toString(), r.toString());
      assert.ok(again.equals(r));
    });
  }

  it("treats alpine:3 and registry-1.docker.io/library/alpine:3 as equal", () => {
    assert.ok(parseReference("alpine:3").equals(parseReference("registry-1.docker.io/library/alpine:3")));
    assert.ok(!parseReference("alpine:3").equals(parseReference("alpine:3.1")));
  });

  it("gives the parsed digest, and an error when there is none", () => {
    const r = parseReference(`ghcr.io/a/b@${D}`);
    assert.equal(r.parsedDigest().algorithm, "sha256");
    assert.equal(r.parsedDigest().encoded, "a".repeat(64));
    assert.equal(r.tagName, undefined);
    assert.throws(
      () => parseReference("ghcr.io/a/b:1").parsedDigest(),
      (e: unknown) => e instanceof FerryError && e.code === "INVALID_REFERENCE",
    );
  });

  it("keeps no tag when asked not to default it", () => {
    assert.equal(parseReference("ghcr.io/a/b", { defaultTag: false }).tagName, undefined);
  });

  const bad: Array<[string, RegExp]> = [
    ["", /empty/],
    ["Alpine", /lowercase/],
    ["ghcr.io/Org/app", /lowercase/],
    ["alpine:-bad", /invalid tag/],
    ["alpine:" + "t".repeat(129), /invalid tag/],
    ["alpine@sha256:abc", /digest/],
    ["alpine@md5", /digest/],
    ["a//b", /path component/],
    ["a/b_", /path component/],
    ["host:99/a b", /whitespace/],
    ["-host.io/a", /registry host/],
    ["ghcr.io/" + "a".repeat(260), /longer than 255/],
  ];
  for (const [input, why] of bad) {
    it(`rejects ${JSON.stringify(input.slice(0, 40))}`, () => {
      assert.throws(
        () => parseReference(input),
        (e: unknown) => e instanceof FerryError && e.code === "INVALID_REFERENCE" && why.test(e.message),
      );
    });
  }

  it("takes digests of the algorithms it can verify (sha256, sha512), and no other", () => {
    assert.equal(parseReference(`ghcr.io/a/b@sha512:${"c".repeat(128)}`).parsedDigest().algorithm, "sha512");
    for (const bad of [`ghcr.io/a/b@sha384:${"c".repeat(96)}`, `ghcr.io/a/b@blake3:${"c".repeat(64)}`, `a@invaliddigest:${"f".repeat(64)}`]) {
      assert.throws(
        () => parseReference(bad),
        (e: unknown) => e instanceof FerryError && e.code === "INVALID_REFERENCE",
        bad,
      );
      // A reference value never carries one either, so its string always parses back.
      assert.throws(
        () => parseRepository("ghcr.io/a/b").at(bad.slice(bad.indexOf("@") + 1)),
        (e: unknown) => e instanceof FerryError && e.code === "INVALID_REFERENCE",
      );
    }
  });

  it("round-trips any valid reference (property)", () => {
    const comp = fc.stringMatching(/^[a-z0-9]{1,8}(?:[._-][a-z0-9]{1,8})?$/);
    const tag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,20}$/);
    const host = fc.constantFrom("ghcr.io", "127.0.0.1:5000", "localhost", "docker.io", "my.reg:443");
    fc.assert(
      fc.property(host, fc.array(comp, { minLength: 1, maxLength: 3 }), fc.option(tag), (h, parts, t) => {
        const s = `${h}/${parts.join("/")}${t ? `:${t}` : ""}`;
        const r = parseReference(s);
        const again = parseReference(r.toString());
        return again.toString() === r.toString() && again.equals(r);
      }),
    );
  });

  it("names a repository as a value that round-trips through its string and JSON", () => {
    const repo = parseReference(`localhost:5000/team/app:v1@${D}`).repo;
    assert.ok(repo instanceof Repository);
    assert.equal(repo.toString(), "localhost:5000/team/app");
    assert.ok(parseRepository(repo.toString()).equals(repo));
    assert.equal(JSON.parse(JSON.stringify({ repo })).repo, "localhost:5000/team/app");
    assert.equal(repo.at(D).toString(), `localhost:5000/team/app@${D}`);
    assert.equal(repo.tagged("v2").toString(), "localhost:5000/team/app:v2");
    assert.equal(repo.address(D), `localhost:5000/team/app@${D}`);
    assert.equal(repo.address("v2"), "localhost:5000/team/app:v2");
    assert.equal(parseRepository("docker.io/alpine").toString(), "registry-1.docker.io/library/alpine");
  });

  it("refuses a reference where a repository is wanted", () => {
    for (const bad of ["ghcr.io/a/b:v1", `ghcr.io/a/b@${D}`, "GHCR.io/A", ""]) {
      assert.throws(
        () => parseRepository(bad),
        (e: unknown) => e instanceof FerryError && e.code === "INVALID_REFERENCE",
      );
    }
  });
});
