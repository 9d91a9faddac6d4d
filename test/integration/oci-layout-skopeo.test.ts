/**
 * ferry and skopeo agree on `oci:DIR:REF`: skopeo writes `oci:DIR:team/app-1.0` and ferry reads
 * it; ferry writes it and skopeo reads it. And the claim behind ferry's Docker-media-type warning,
 * checked on the installed skopeo: containers/image before v5.35 does not find a Docker media type
 * under a ref name, but reads it as the layout's only image.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { DOCKER_MANIFEST, OCI_MANIFEST } from "../../lib/oci/media-types.ts";
import { copyImage } from "../../lib/replicate/copy.ts";
import { parseLocation } from "../../lib/replicate/location.ts";
import { OciLayoutStore } from "../../lib/replicate/oci-layout.ts";
import { randomImage, writeOciLayout } from "../helpers/images.ts";

const run = promisify(execFile);
const skopeo = (...args: string[]) => run("skopeo", args, { encoding: "buffer", maxBuffer: 64 * 1024 * 1024 });

const roots: string[] = [];
after(() => Promise.all(roots.map((d) => rm(d, { recursive: true, force: true }))));
const tempRoot = async () => {
  const d = await mkdtemp(join(tmpdir(), "ferry-oci-skopeo-"));
  roots.push(d);
  return d;
};

/** A store and ref for `oci:…`, as the CLI parses it. */
function layout(s: string): { store: OciLayoutStore; ref: string } {
  const l = parseLocation(s);
  assert.equal(l.kind, "oci");
  if (l.kind !== "oci" || !l.tag) throw new Error(`${s}: want oci:DIR:REF`);
  return { store: new OciLayoutStore(l.dir), ref: l.tag };
}

describe("oci:DIR:team/app-1.0 between skopeo and ferry", () => {
  it("skopeo writes it, ferry reads it; ferry writes it, skopeo reads it", async () => {
    const root = await tempRoot();
    const image = randomImage({ layers: 2, layerSize: 30_000, seed: "skopeo-ref-name" });
    await writeOciLayout(join(root, "gen"), image, "v1");

    // skopeo → ferry
    await skopeo("copy", "--quiet", "--preserve-digests", `oci:${join(root, "gen")}:v1`, `oci:${join(root, "by-skopeo")}:team/app-1.0`);
    const index = JSON.parse(await readFile(join(root, "by-skopeo", "index.json"), "utf8"));
    assert.equal(index.manifests[0].annotations["org.opencontainers.image.ref.name"], "team/app-1.0", "skopeo took team/app-1.0 as the ref name");
    const read = layout(`oci:${join(root, "by-skopeo")}:team/app-1.0`);
    assert.equal((await read.store.manifestGet(read.ref)).digest, image.digest);

    // ferry → skopeo
    const dst = layout(`oci:${join(root, "by-ferry")}:team/app-1.0`);
    const r = await copyImage(read.store, read.ref, dst.store, dst.ref, { referrers: false });
    assert.equal(r.digest, image.digest);
    const { stdout } = await skopeo("inspect", "--raw", `oci:${join(root, "by-ferry")}:team/app-1.0`);
    assert.deepEqual(stdout, image.bytes, "skopeo reads ferry's team/app-1.0, byte for byte");
    // skopeo verifies every blob's digest on the way to a dir: copy.
    await skopeo("copy", "--quiet", `oci:${join(root, "by-ferry")}:team/app-1.0`, `dir:${join(root, "verify")}`);
  });
});

describe("Docker media types under a ref name (the claim behind manifestPutWarning)", () => {
  it("the installed skopeo finds the OCI image by ref name, the Docker one only as the layout's only image", async () => {
    const { stdout: version } = await run("skopeo", ["--version"]);
    const [major, minor] = (/(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number) as [number, number];
    const root = await tempRoot();
    const docker = randomImage({ layers: 1, layerSize: 10_000, format: "docker", seed: "skopeo-docker" });
    const oci = randomImage({ layers: 1, layerSize: 10_000, seed: "skopeo-oci" });
    await writeOciLayout(join(root, "gen-docker"), docker, "v1");
    await writeOciLayout(join(root, "gen-oci"), oci, "v1");
    for (const [name, image] of [
      ["docker", docker],
      ["oci", oci],
    ] as const) {
      const dst = new OciLayoutStore(join(root, name));
      await copyImage(new OciLayoutStore(join(root, `gen-${name}`)), "v1", dst, "team/app-1.0", { referrers: false });
      assert.equal(dst.manifestPutWarning("team/app-1.0", image.mediaType) !== undefined, image.mediaType === DOCKER_MANIFEST);
    }
    assert.equal(oci.mediaType, OCI_MANIFEST);
    assert.deepEqual((await skopeo("inspect", "--raw", `oci:${join(root, "oci")}:team/app-1.0`)).stdout, oci.bytes);
    assert.deepEqual((await skopeo("inspect", "--raw", `oci:${join(root, "docker")}`)).stdout, docker.bytes, "the only image is read whatever its type");
    const byName = skopeo("inspect", "--raw", `oci:${join(root, "docker")}:team/app-1.0`);
    // containers/image v5.35 (skopeo 1.19) added Docker media types to the ref-name lookup.
    if (major === 1 && minor < 19)
      await assert.rejects(byName, (e: unknown) => /no descriptor found for reference/.test(String((e as { stderr?: Buffer }).stderr)));
    else assert.deepEqual((await byName).stdout, docker.bytes);
  });
});
