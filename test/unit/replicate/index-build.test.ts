import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FerryError } from "../../../lib/errors.ts";
import { parseManifest } from "../../../lib/oci/manifest.ts";
import { formatPlatform, parsePlatform } from "../../../lib/oci/platform.ts";
import { filterIndex, mergeWithDestination, verbatim } from "../../../lib/replicate/index-build.ts";
import { randomIndex } from "../../helpers/images.ts";

const raw = (m: { bytes: Buffer }) => parseManifest(m.bytes);
const platformsOf = (bytes: Buffer) => {
  const m = parseManifest(bytes).manifest;
  return m.kind === "index" ? m.manifests.map((d) => formatPlatform(d.platform)) : [];
};

describe("platform filter", () => {
  const src = randomIndex({ platforms: 3, attestations: true, seed: "f" }); // amd64, arm64/v8, arm/v7 + 3 attestations
  it("keeps the wanted platforms and the attestations that refer to them; the digest changes", () => {
    const plan = filterIndex(raw(src), [parsePlatform("linux/amd64"), parsePlatform("linux/arm/v7")]);
    assert.equal(plan.rebuilt, true);
    assert.notEqual(plan.digest, src.digest);
    assert.deepEqual(platformsOf(plan.bytes), ["linux/amd64", "linux/arm/v7", "unknown/unknown", "unknown/unknown"]);
    const kept = parseManifest(plan.bytes).manifest;
    assert.ok(kept.kind === "index");
    const attRefs = kept.manifests.filter((d) => d.platform?.os === "unknown").map((d) => d.annotations?.["vnd.docker.reference.digest"]);
    assert.deepEqual(attRefs, [kept.manifests[0]?.digest, kept.manifests[1]?.digest]);
  });
  it("keeps the source bytes when every platform is wanted", () => {
    const plan = filterIndex(raw(src), ["linux/amd64", "linux/arm64", "linux/arm"].map(parsePlatform));
    assert.equal(plan.rebuilt, false);
    assert.equal(plan.digest, src.digest);
    assert.equal(plan.bytes, raw(src).bytes);
  });
  it("keeps other top-level fields and entry fields", () => {
    const obj = JSON.parse(src.bytes.toString());
    obj.annotations = { "org.opencontainers.image.source": "https://example.com" };
    obj.manifests[0].annotations = { keep: "me" };
    const plan = filterIndex(parseManifest(Buffer.from(JSON.stringify(obj))), [parsePlatform("linux/amd64")]);
    const out = JSON.parse(plan.bytes.toString());
    assert.deepEqual(out.annotations, obj.annotations);
    assert.deepEqual(out.manifests[0], obj.manifests[0]);
    assert.equal(out.mediaType, obj.mediaType);
  });
  it("is a clear error when no platform matches", () => {
    assert.throws(
      () => filterIndex(raw(src), [parsePlatform("windows/amd64")]),
      (e: unknown) => e instanceof FerryError && e.code === "PLATFORM_MISMATCH",
    );
  });
});

describe("merge with the destination", () => {
  it("appends the destination's platforms that the source lacks, with their attestations", () => {
    const source = randomIndex({ platforms: 2, attestations: true, seed: "new" }); // amd64, arm64
    const dest = randomIndex({ platforms: 4, attestations: true, seed: "old" }); // amd64, arm64, arm, s390x
    const plan = mergeWithDestination(verbatim(raw(source)), raw(dest));
    assert.equal(plan.rebuilt, true);
    assert.deepEqual(platformsOf(plan.bytes), [
      "linux/amd64",
      "linux/arm64/v8",
      "unknown/unknown",
      "unknown/unknown", // the source, as it was
      "linux/arm/v7",
      "linux/s390x",
      "unknown/unknown",
      "unknown/unknown", // destination-only, with attestations
    ]);
    assert.deepEqual(
      plan.fromDestination.filter((d) => d.platform?.os === "linux").map((d) => formatPlatform(d.platform)),
      ["linux/arm/v7", "linux/s390x"],
    );
    const m = parseManifest(plan.bytes).manifest;
    assert.ok(m.kind === "index");
    const srcM = parseManifest(source.bytes).manifest;
    assert.ok(srcM.kind === "index");
    assert.deepEqual(m.manifests.slice(0, 4), srcM.manifests, "source entries first and unchanged");
  });
  it("is the source verbatim when the destination has nothing the source lacks", () => {
    const source = randomIndex({ platforms: 3, seed: "a" });
    const dest = randomIndex({ platforms: 2, seed: "b" });
    const plan = mergeWithDestination(verbatim(raw(source)), raw(dest));
    assert.equal(plan.rebuilt, false);
    assert.equal(plan.digest, source.digest);
  });
  it("merges after filtering", () => {
    const source = randomIndex({ platforms: 3, seed: "a" });
    const dest = randomIndex({ platforms: 4, seed: "b" });
    const filtered = filterIndex(raw(source), [parsePlatform("linux/amd64")]);
    const plan = mergeWithDestination(filtered, raw(dest));
    assert.deepEqual(platformsOf(plan.bytes), ["linux/amd64", "linux/arm64/v8", "linux/arm/v7", "linux/s390x"]);
    assert.equal(plan.fromSource.length, 1);
  });
});
