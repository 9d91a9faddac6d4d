/** `ferry copy` and `ferry inspect` as a user runs them: a subprocess, real registries. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { RegistryClient } from "../../lib/registry/client.ts";
import { staticCredentials } from "../../lib/registry/credentials.ts";
import { type Distribution, startDistribution } from "../helpers/distribution.ts";
import { pushImage, randomIndex } from "../helpers/images.ts";
import { skopeoInspectRaw } from "../helpers/skopeo.ts";

const BIN = fileURLToPath(new URL("../../bin/ferry.js", import.meta.url));
let src: Distribution;
let dst: Distribution;
let secure: Distribution;
let tmp: string;
const image = randomIndex({ platforms: 3, layers: 2, layerSize: 20_000, attestations: true, seed: "cli" });

function ferry(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, HOME: tmp, DOCKER_CONFIG: join(tmp, "docker"), ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

before(async () => {
  [src, dst, secure] = await Promise.all([startDistribution(), startDistribution(), startDistribution({ auth: "htpasswd" })]);
  tmp = await mkdtemp(join(tmpdir(), "ferry-cli-"));
  const c = new RegistryClient({ host: src.host });
  await pushImage(c, "app", "v1", image);
  await c.close();
  const s = new RegistryClient({ host: secure.host, credentials: staticCredentials("alice", "wonderland") });
  await pushImage(s, "private/app", "v1", image);
  await s.close();
});
after(async () => {
  await Promise.all([src?.stop(), dst?.stop(), secure?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

describe("ferry copy", () => {
  it("copies registry → registry and prints the result as JSON", async () => {
    const r = await ferry(["copy", "--json", `${src.host}/app:v1`, `${dst.host}/mirror/app:v1`]);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.equal(result.digest, image.digest);
    assert.equal(result.addressByTag, `${dst.host}/mirror/app:v1`);
    assert.equal(result.addressByDigest, `${dst.host}/mirror/app@${image.digest}`);
    assert.deepEqual(result.platforms, ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]);
    assert.ok(result.blobs.copied > 0 && result.bytes > 0);
    assert.deepEqual(await skopeoInspectRaw(`${dst.host}/mirror/app:v1`), image.bytes);
    assert.match(r.stderr, /blob sha256:[0-9a-f]{12} .*: copied/, "plain progress, one line per step");
    const again = await ferry(["copy", `${src.host}/app:v1`, `${dst.host}/mirror/app:v1`]);
    assert.equal(again.code, 0);
    assert.match(again.stderr, /Up to date/);
  });

  it("exports to an OCI layout and pushes it back, tag defaulting to the source's", async () => {
    const dir = join(tmp, "layout");
    const out = await ferry(["copy", "-q", `${src.host}/app:v1`, `oci:${dir}`]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stderr, "", "--quiet prints nothing");
    assert.ok((await readdir(dir)).includes("index.json"));
    const back = await ferry(["copy", "--json", "-q", `oci:${dir}:v1`, `${dst.host}/from-layout/app`]);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(JSON.parse(back.stdout).addressByTag, `${dst.host}/from-layout/app:v1`);
    assert.deepEqual(await skopeoInspectRaw(`${dst.host}/from-layout/app:v1`), image.bytes);
  });

  it("filters platforms", async () => {
    const r = await ferry(["copy", "--json", "--platform", "linux/arm64", `${src.host}/app:v1`, `${dst.host}/arm/app:v1`]);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.deepEqual(result.platforms, ["linux/arm64/v8"]);
    assert.equal(result.indexRebuilt, true);
    assert.notEqual(result.digest, image.digest);
  });

  it("uses --src-creds, and fails without them naming the side, reference and registry code", async () => {
    const ok = await ferry(["copy", "-q", "--src-creds", "alice:wonderland", `${secure.host}/private/app:v1`, `${dst.host}/priv/app:v1`]);
    assert.equal(ok.code, 0, ok.stderr);
    const denied = await ferry(["copy", "-q", `${secure.host}/private/app:v1`, `${dst.host}/priv2/app:v1`]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, new RegExp(`source ${secure.host.replace(/\./g, "\\.")}/private/app:v1`));
    assert.match(denied.stderr, /HTTP 401/);
    assert.match(denied.stderr, /UNAUTHORIZED/);
    assert.ok(!denied.stderr.includes("wonderland"));
  });

  it("reads credentials from --authfile", async () => {
    const file = join(tmp, "auth.json");
    const { writeFile } = await import("node:fs/promises");
    await writeFile(file, JSON.stringify({ auths: { [secure.host]: { auth: Buffer.from("alice:wonderland").toString("base64") } } }));
    const r = await ferry(["copy", "-q", "--authfile", file, `${secure.host}/private/app:v1`, `${dst.host}/authfile/app:v1`]);
    assert.equal(r.code, 0, r.stderr);
  });

  it("fails with exit 1 for a missing image, naming the source", async () => {
    const r = await ferry(["copy", "-q", `${src.host}/app:nope`, `${dst.host}/x:y`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /copy failed at the source/);
    assert.match(r.stderr, /NOT_FOUND/);
  });

  it("plans with --dry-run and writes nothing", async () => {
    const r = await ferry(["copy", "--dry-run", `${src.host}/app:v1`, `${dst.host}/dry/app:v1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /would copy/);
    assert.match(r.stderr, /Would copy/);
    const c = new RegistryClient({ host: dst.host });
    assert.equal(await c.manifestHead("dry/app", "v1"), undefined);
    await c.close();
  });

  it("exits 2 on usage errors", async () => {
    for (const args of [
      ["copy"],
      ["copy", "a"],
      ["copy", "Bad:Ref!", "x"],
      ["copy", "--jobs", "0", "a", "b"],
      ["copy", "--bogus", "a", "b"],
      ["copy", "--platform", "linux", "a", "b"],
      ["nope"],
    ]) {
      const r = await ferry(args);
      assert.equal(r.code, 2, `${args.join(" ")} → ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, /ferry: /);
    }
  });

  it("explains itself with --help", async () => {
    const r = await ferry(["copy", "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Examples:/);
    assert.match(r.stdout, /--platform/);
  });
});

describe("ferry inspect", () => {
  it("prints the tree with platforms, config and layers", async () => {
    const r = await ferry(["inspect", `${src.host}/app:v1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(image.digest));
    assert.match(r.stdout, /├─ linux\/amd64 /);
    assert.match(r.stdout, /config {2}sha256:/);
    assert.match(r.stdout, /layer 2 {2}sha256:[0-9a-f]{64} {2}20\.0 KB/);
    assert.match(r.stdout, /unknown\/unknown \(attestation-manifest\)/);
    const j = await ferry(["inspect", "--json", `${src.host}/app:v1`]);
    const tree = JSON.parse(j.stdout);
    assert.equal(tree.digest, image.digest);
    assert.equal(tree.manifests.length, 6);
    assert.equal(tree.manifests[0].platform, "linux/amd64");
    assert.equal(tree.manifests[0].layers.length, 2);
  });
});
