import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatBytes, formatDuration, shortDigest } from "../../../lib/cli/format.ts";
import { FerryError } from "../../../lib/errors.ts";
import { Limiter } from "../../../lib/replicate/limiter.ts";
import { formatLocation, parseLocation } from "../../../lib/replicate/location.ts";

const D = `sha256:${"b".repeat(64)}`;

describe("parseLocation", () => {
  const table: Array<[string, { kind: string; dir?: string; tag?: string; digest?: string; ref?: string }]> = [
    ["oci:/srv/layout", { kind: "oci", dir: "/srv/layout" }],
    ["oci:./build/app:dev", { kind: "oci", dir: "./build/app", tag: "dev" }],
    [`oci:/x@${D}`, { kind: "oci", dir: "/x", digest: D }],
    ["oci:rel/dir:1.0", { kind: "oci", dir: "rel/dir", tag: "1.0" }],
    ["alpine", { kind: "registry", ref: "registry-1.docker.io/library/alpine" }],
    ["docker://ghcr.io/a/b:v1", { kind: "registry", ref: "ghcr.io/a/b:v1", tag: "v1" }],
    [`127.0.0.1:5000/app@${D}`, { kind: "registry", ref: `127.0.0.1:5000/app@${D}`, digest: D }],
    // skopeo's split (containers/image oci/layout ParseReference): PATH ends at the first ':',
    // the rest is the ref name, '/', ':' and '@' included (image-spec ref.name grammar).
    ["oci:DIR:team/app-1.0", { kind: "oci", dir: "DIR", tag: "team/app-1.0" }],
    ["oci:/srv/l:org/team/app_2+x", { kind: "oci", dir: "/srv/l", tag: "org/team/app_2+x" }],
    ["oci:/srv/l:1.0:beta", { kind: "oci", dir: "/srv/l", tag: "1.0:beta" }],
    ["oci:/srv/l:v1@build-7", { kind: "oci", dir: "/srv/l", tag: "v1@build-7" }],
    [`oci:/srv/l:v1@${D}`, { kind: "oci", dir: "/srv/l", tag: `v1@${D}` }],
    ["oci:/srv/l:a--b", { kind: "oci", dir: "/srv/l", tag: "a--b" }],
    ["oci:/srv/l:", { kind: "oci", dir: "/srv/l" }],
    ["oci:/srv/a@b", { kind: "oci", dir: "/srv/a@b" }],
    ["oci:./rel/dir", { kind: "oci", dir: "./rel/dir" }],
  ];
  for (const [input, want] of table) {
    it(`parses ${input}`, () => {
      const l = parseLocation(input);
      assert.equal(l.kind, want.kind);
      assert.equal(l.tag, want.tag);
      assert.equal(l.digest, want.digest);
      if (l.kind === "oci") assert.equal(l.dir, want.dir);
      else assert.equal(l.ref.toString(), want.ref);
    });
  }
  it("never reads the ref name as part of the directory (skopeo writes oci:DIR:team/app-1.0 that way)", () => {
    const l = parseLocation("oci:/tmp/out:team/app-1.0");
    assert.equal(l.kind === "oci" && l.dir, "/tmp/out");
    assert.equal(formatLocation(l), "oci:/tmp/out:team/app-1.0");
    assert.deepEqual(parseLocation(formatLocation(l)), l);
  });
  it("keeps no default tag (the CLI decides), and formats back", () => {
    assert.equal(parseLocation("ghcr.io/a/b").tag, undefined);
    assert.equal(formatLocation(parseLocation("oci:/a:b")), "oci:/a:b");
    assert.equal(formatLocation(parseLocation("ghcr.io/a/b:c")), "ghcr.io/a/b:c");
  });
  it("rejects bad input with INVALID_REFERENCE", () => {
    const badRefNames = ["oci:/x:team//app", "oci:/x:/app", "oci:/x:app/", "oci:/x:-app", "oci:/x:app-", "oci:/x:a__b", "oci:/x:a..b", "oci:/x:a b"];
    for (const bad of ["oci:", "oci::tag", "oci:/x:bad tag!", "Upper/Case", "oci:/x:@0", ...badRefNames]) {
      assert.throws(
        () => parseLocation(bad),
        (e: unknown) => e instanceof FerryError && e.code === "INVALID_REFERENCE",
        bad,
      );
    }
  });
});

describe("Limiter", () => {
  it("never runs more than n tasks at once, and runs them all", async () => {
    const l = new Limiter(3);
    let active = 0;
    let peak = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        l.run(async () => {
          active++;
          peak = Math.max(peak, active);
          await new Promise((r) => setTimeout(r, 2));
          active--;
          return i;
        }),
      ),
    );
    assert.equal(peak, 3);
    assert.deepEqual(
      results,
      Array.from({ length: 20 }, (_, i) => i),
    );
  });
  it("frees the slot when a task fails", async () => {
    const l = new Limiter(1);
    await assert.rejects(l.run(async () => Promise.reject(new Error("boom"))));
    assert.equal(await l.run(async () => 7), 7);
  });
});

describe("CLI formatting", () => {
  it("formats bytes, digests and durations", () => {
    assert.equal(formatBytes(999), "999 B");
    assert.equal(formatBytes(40_000_000), "40.0 MB");
    assert.equal(formatBytes(1024 ** 3), "1.1 GB");
    assert.equal(shortDigest(D), `sha256:${"b".repeat(12)}`);
    assert.equal(formatDuration(1234), "1.2s");
    assert.equal(formatDuration(65_000), "1m05s");
  });
});
