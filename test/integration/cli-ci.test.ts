/**
 * What the tools ferry replaces did, through `ferry copy` as CI runs it (a subprocess, real
 * registries): one source to several destinations, the result fields a pipeline step reads,
 * `--digestfile`, and a single-platform image normalised to an index (the per-arch flow of a
 * Quay pusher: push each architecture, merge them into one tag).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { parseManifest } from "../../lib/oci/manifest.ts";
import { formatPlatform } from "../../lib/oci/platform.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { type Distribution, startDistribution } from "../helpers/distribution.ts";
import { pushImage, randomImage, randomIndex } from "../helpers/images.ts";

const BIN = fileURLToPath(new URL("../../bin/ferry.js", import.meta.url));
let src: Distribution;
let a: Distribution;
let b: Distribution;
let tmp: string;
let srcClient: RegistryClient;
const image = randomIndex({ platforms: 2, layers: 1, layerSize: 8_000, seed: "cli-ci" });

function ferry(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, HOME: tmp, DOCKER_CONFIG: join(tmp, "docker") } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

before(async () => {
  [src, a, b] = await Promise.all([startDistribution(), startDistribution(), startDistribution()]);
  tmp = await mkdtemp(join(tmpdir(), "ferry-cli-ci-"));
  srcClient = new RegistryClient({ host: src.host });
  await pushImage(srcClient, "app", "v1", image);
});
after(async () => {
  await srcClient?.close();
  await Promise.all([src?.stop(), a?.stop(), b?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

describe("one source, several destinations", () => {
  it("writes every destination, one JSON entry each with the CI fields, and the digest file", async () => {
    const digestfile = join(tmp, "digest");
    const r = await ferry([
      "copy",
      "--json",
      "--digestfile",
      digestfile,
      `${src.host}/app:v1`,
      `${a.host}/team/app:v1`,
      `${a.host}/copy/app`,
      `${b.host}/app:2.0`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const results = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    assert.equal(results.length, 3);
    assert.deepEqual(results[0], {
      ...results[0],
      digest: image.digest,
      registry: a.host,
      repository: "team/app",
      tag: "v1",
      addressByTag: `${a.host}/team/app:v1`,
      addressByDigest: `${a.host}/team/app@${image.digest}`,
      shortAddressByTag: "team/app:v1",
      shortAddressByDigest: `team/app@${image.digest}`,
    });
    assert.equal(results[1]?.tag, "v1", "a destination without a tag takes the source's");
    const second = results[1] as { blobs: { mounted: number } };
    assert.ok(second.blobs.mounted > 0, "the second repository of a registry mounts");
    assert.equal(results[2]?.shortAddressByTag, "app:2.0");
    assert.equal(await readFile(digestfile, "utf8"), image.digest);
    const c = new RegistryClient({ host: b.host });
    assert.equal((await c.manifestHead("app", "2.0"))?.digest, image.digest);
    await c.close();
  });

  it("a destination that fails is named, the others are written, and the exit status is 1", async () => {
    const r = await ferry(["copy", `${src.host}/app:v1`, `${a.host}/ok/app:v1`, "127.0.0.1:9/unreachable/app:v1"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /127\.0\.0\.1:9\/unreachable\/app/);
    const c = new RegistryClient({ host: a.host });
    assert.equal((await c.manifestHead("ok/app", "v1"))?.digest, image.digest);
    await c.close();
  });
});

describe("--to-index", () => {
  it("pushes single-platform images as one-entry indexes, and with --merge joins them into one tag", async () => {
    const amd = randomImage({ platform: { os: "linux", architecture: "amd64" }, seed: "per-arch", layers: 1, layerSize: 512 });
    const arm = randomImage({ platform: { os: "linux", architecture: "arm64", variant: "v8" }, seed: "per-arch", layers: 1, layerSize: 512 });
    await pushImage(srcClient, "arch/app", "v1-amd64", amd);
    await pushImage(srcClient, "arch/app", "v1-arm64", arm);
    const first = await ferry(["copy", "--json", "--to-index", `${src.host}/arch/app:v1-amd64`, `${b.host}/arch/app:v1`]);
    assert.equal(first.code, 0, first.stderr);
    const second = await ferry(["copy", "--json", "--to-index", "--merge", `${src.host}/arch/app:v1-arm64`, `${b.host}/arch/app:v1`]);
    assert.equal(second.code, 0, second.stderr);
    const c = new RegistryClient({ host: b.host });
    const index = await c.manifestGet("arch/app", "v1");
    const m = parseManifest(index.bytes).manifest;
    assert.ok(m.kind === "index");
    assert.deepEqual(
      m.manifests.map((d) => [d.digest, formatPlatform(d.platform)]).sort(),
      [
        [amd.digest, "linux/amd64"],
        [arm.digest, "linux/arm64/v8"],
      ].sort(),
    );
    assert.equal((JSON.parse(second.stdout) as { digest: string }).digest, index.digest);
    await c.close();
  });
});

describe("OCI layouts as skopeo names them", () => {
  it("writes oci:DIR:team/app-1.0, warns that a Docker-format image is invisible by that name to skopeo 1.9, and reads oci:DIR as its only image", async () => {
    const docker = randomIndex({ platforms: 1, layers: 1, layerSize: 256, seed: "cli-layout", format: "docker" });
    await pushImage(srcClient, "docker/app", "v1", docker);
    const dir = join(tmp, "layout");
    const out = await ferry(["copy", `${src.host}/docker/app:v1`, `oci:${dir}:team/app-1.0`]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /skopeo/i);
    const back = await ferry(["copy", "--json", `oci:${dir}`, `${b.host}/from-layout/app:v9`]);
    assert.equal(back.code, 0, back.stderr);
    assert.equal((JSON.parse(back.stdout) as { digest: string }).digest, docker.digest);
  });
});
