/**
 * `ferry push DIR DST` against real components: a generated tree goes into distribution (through
 * the CLI binary) or an OCI layout, skopeo pulls it back, GNU tar unpacks it as root, and the
 * unpacked tree is compared with the original: types, modes, owners, link targets, hard-link
 * identity, contents.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { chmod, chown, link, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, lutimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { hostPlatform } from "../../lib/push/config.ts";
import { type PushRequest, pushTree } from "../../lib/push/push.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { OciLayoutStore } from "../../lib/replicate/oci-layout.ts";
import type { ImageSink } from "../../lib/replicate/ports.ts";
import { RegistryStore } from "../../lib/replicate/registry-store.ts";
import { rejectsWithCode } from "../helpers/assert.ts";
import { type Distribution, startDistribution } from "../helpers/distribution.ts";
import { pushImage, randomIndex, randomStream } from "../helpers/images.ts";
import { skopeoCopyToLayout, skopeoInspectRaw } from "../helpers/skopeo.ts";

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../../bin/ferry.js", import.meta.url));
const LONG = `${"a-rather-long-directory-name/".repeat(4)}and-a-file-name-that-goes-past-one-hundred-bytes.txt`;
let reg: Distribution;
let tmp: string;
let tree: string;

/** The runtime settings app:v1 is pushed with (and re-pushed, and used as a base). */
const SETTINGS = ["--env", "A=1", "--cmd", '["/bin/tool"]', "--label", "team=ferry"];
/** What every library-level push here shares: the CLI's defaults. */
const REQ: Omit<PushRequest, "tree" | "tag"> = { platform: hostPlatform(), platformExplicit: false, settings: {}, mtime: 0 };

/** An OCI layout as a plain sink object, so a test can wrap one of its methods. */
function layoutSink(l: OciLayoutStore): ImageSink {
  return {
    name: l.name,
    address: (ref) => l.address(ref),
    manifestHead: (ref) => l.manifestHead(ref),
    manifestGet: (ref) => l.manifestGet(ref),
    blobHead: (digest) => l.blobHead(digest),
    blobPut: (desc, open) => l.blobPut(desc, open),
    manifestPut: (ref, bytes, mediaType) => l.manifestPut(ref, bytes, mediaType),
  };
}

function ferry(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, HOME: tmp, ...env }, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The test tree: every kind of entry ferry keeps, odd modes and owners, a FIFO it leaves out. Files created in `order`. */
async function makeTree(root: string, opts: { reverse?: boolean; mtime?: number } = {}): Promise<string> {
  for (const d of ["bin", "etc", "tmp", "var/empty", "usr/lib", LONG.slice(0, LONG.lastIndexOf("/"))]) await mkdir(join(root, d), { recursive: true });
  const files: Array<[string, string | Buffer, number]> = [
    ["bin/tool", "#!/bin/sh\necho tool\n", 0o755],
    ["bin/su", "setuid\n", 0o4755],
    ["bin/sg", "setgid\n", 0o2755],
    ["etc/secret", "s3cret\n", 0o600],
    ["etc/readonly", "ro\n", 0o444],
    ["etc/ünïcode.conf", "utf-8 name\n", 0o644],
    [LONG, "deep\n", 0o640],
    ["empty-file", "", 0o644],
  ];
  for (const [p, content, mode] of opts.reverse ? [...files].reverse() : files) {
    await writeFile(join(root, p), content);
    await chmod(join(root, p), mode);
  }
  await pipeline(randomStream(3 * 1024 * 1024 + 123, "push-big"), createWriteStream(join(root, "usr/lib/big.bin")));
  await chmod(join(root, "tmp"), 0o1777);
  await chmod(join(root, "var/empty"), 0o700);
  await chmod(join(root, "etc"), 0o750);
  await link(join(root, "bin/tool"), join(root, "bin/tool-again"));
  await link(join(root, LONG), join(root, "usr/lib/long-link"));
  await symlink("tool", join(root, "bin/sh"));
  await symlink("/etc/secret", join(root, "usr/lib/absolute"));
  await symlink("../nowhere", join(root, "usr/lib/dangling"));
  await chown(join(root, "etc/secret"), 1000, 1000);
  await run("mkfifo", [join(root, "tmp/fifo")]);
  if (opts.mtime !== undefined) for await (const p of paths(root)) if (!p.endsWith("fifo")) await lutimes(join(root, p), opts.mtime, opts.mtime);
  return root;
}

async function* paths(root: string, prefix = ""): AsyncGenerator<string> {
  for (const n of await readdir(join(root, prefix))) {
    const p = prefix ? `${prefix}/${n}` : n;
    yield p;
    if ((await lstat(join(root, p))).isDirectory()) yield* paths(root, p);
  }
}

/** What a tree is: one line per path (type, mode, owner, size, content hash or link target, hard-link group). */
async function snapshot(root: string, opts: { owners: boolean }): Promise<string[]> {
  const out: string[] = [];
  const inodes = new Map<number, string>();
  const all: string[] = [];
  for await (const p of paths(root)) all.push(p);
  all.sort((a, b) => (a < b ? -1 : 1));
  for (const p of all) {
    const st = await lstat(join(root, p));
    if (st.isFIFO()) continue;
    const type = st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : "file";
    let what = "";
    if (st.isSymbolicLink()) what = `-> ${await readlink(join(root, p))}`;
    else if (st.isFile()) {
      what = createHash("sha256")
        .update(await readFile(join(root, p)))
        .digest("hex")
        .slice(0, 16);
      if (st.nlink > 1) {
        if (!inodes.has(st.ino)) inodes.set(st.ino, p);
        what += ` same-inode-as ${inodes.get(st.ino)}`;
      }
    }
    const mode = type === "symlink" ? "" : (st.mode & 0o7777).toString(8);
    out.push(`${type} ${mode} ${opts.owners ? `${st.uid}:${st.gid} ` : ""}${p} ${what}`);
  }
  return out;
}

/** skopeo copies `ref` (docker:// or oci:) into a `dir:`; GNU tar unpacks its layers in order, as root, keeping owners and modes. */
async function pullAndUnpack(ref: string): Promise<{
  dir: string;
  pulled: string;
  manifest: { layers: Array<{ digest: string; size: number }>; config: { digest: string } };
  config: Record<string, unknown> & { rootfs: { diff_ids: string[] }; history: Array<{ empty_layer?: boolean }> };
}> {
  const pulled = await mkdtemp(join(tmp, "pulled-"));
  if (ref.startsWith("oci:")) {
    await run("skopeo", ["copy", "--preserve-digests", "--quiet", ref, `dir:${pulled}`], { env: { ...process.env, HOME: pulled } });
  } else await skopeoCopyToLayout(ref, pulled);
  const manifest = JSON.parse(await readFile(join(pulled, "manifest.json"), "utf8"));
  const config = JSON.parse(await readFile(join(pulled, manifest.config.digest.slice(7)), "utf8"));
  const dir = await mkdtemp(join(tmp, "unpacked-"));
  for (const l of manifest.layers) await run("tar", ["--same-owner", "-p", "-xzf", join(pulled, l.digest.slice(7)), "-C", dir]);
  return { dir, pulled, manifest, config };
}

async function diffIdOf(dir: string, digest: string): Promise<string> {
  return `sha256:${createHash("sha256")
    .update(gunzipSync(await readFile(join(dir, digest.slice(7)))))
    .digest("hex")}`;
}

before(async () => {
  reg = await startDistribution();
  tmp = await mkdtemp(join(tmpdir(), "ferry-push-"));
  tree = await makeTree(join(tmp, "tree"), { mtime: 1_600_000_000 });
});
after(async () => {
  await reg?.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe("ferry push into a registry", () => {
  it("pushes the tree through the CLI; skopeo pulls it; GNU tar unpacks the same tree, owned by root, times normalised", async () => {
    const r = await ferry(["push", "--json", ...SETTINGS, tree, `${reg.host}/app:v1`]);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.equal(result.addressByTag, `${reg.host}/app:v1`);
    assert.equal(result.addressByDigest, `${reg.host}/app@${result.digest}`);
    assert.equal(result.mediaType, "application/vnd.oci.image.manifest.v1+json");
    assert.deepEqual(
      result.skipped.map((s: { path: string }) => s.path),
      ["tmp/fifo"],
    );
    assert.match(r.stderr, /warning: skipped tmp\/fifo: FIFO/);
    const raw = await skopeoInspectRaw(`${reg.host}/app:v1`);
    assert.equal(`sha256:${createHash("sha256").update(raw).digest("hex")}`, result.digest);

    const { dir, pulled, manifest, config } = await pullAndUnpack(`${reg.host}/app:v1`);
    assert.equal(await diffIdOf(pulled, result.layer.digest), result.layer.diffId, "diff_id: the sha256 of the gunzipped layer");
    assert.deepEqual(manifest.layers, [{ mediaType: result.layer.mediaType, digest: result.layer.digest, size: result.layer.size }]);
    assert.deepEqual(config.rootfs.diff_ids, [result.layer.diffId]);
    assert.equal(config.history.filter((h) => !h.empty_layer).length, 1);
    assert.deepEqual(config.config, { Env: ["A=1"], Cmd: ["/bin/tool"], Labels: { team: "ferry" } });

    assert.deepEqual(await snapshot(dir, { owners: false }), await snapshot(tree, { owners: false }));
    for (const line of await snapshot(dir, { owners: true })) assert.match(line, /^\S+ \d* ?0:0 /, line);
    const st = await lstat(join(dir, "usr/lib/big.bin"));
    assert.equal(st.mtimeMs, 0, "mtime normalised to the epoch");
  });

  it("gives the same digest for the same tree made in another order with other times; SOURCE_DATE_EPOCH changes it", async () => {
    const again = await makeTree(join(tmp, "tree-again"), { reverse: true, mtime: 1_234_567 });
    const client = new RegistryClient({ host: reg.host });
    const sink = new RegistryStore(client, "app");
    const first = await pushTree(sink, { ...REQ, tree, tag: "one" });
    const second = await pushTree(sink, { ...REQ, tree: again, tag: "two" });
    assert.equal(second.digest, first.digest);
    assert.deepEqual(second.layer, first.layer);
    assert.equal(second.blobs.pushed, 0, "the layer and config were there: nothing uploaded");
    const cli = await ferry(["push", "--json", "-q", again, `${reg.host}/app:three`], { SOURCE_DATE_EPOCH: "0" });
    assert.equal(JSON.parse(cli.stdout).digest, first.digest, "the CLI and the library agree; SOURCE_DATE_EPOCH=0 is the default");
    const dated = await ferry(["push", "--json", "-q", again, `${reg.host}/app:four`], { SOURCE_DATE_EPOCH: "1700000000" });
    const d = JSON.parse(dated.stdout);
    assert.notEqual(d.layer.diffId, first.layer.diffId);
    const { dir, config } = await pullAndUnpack(`${reg.host}/app:four`);
    assert.equal(config.created, "2023-11-14T22:13:20Z");
    assert.equal((await lstat(join(dir, "bin/tool"))).mtimeMs, 1_700_000_000_000);
    await client.close();
  });

  it("re-pushing an unchanged tree is up to date; --dry-run computes the digest and writes nothing", async () => {
    const r = await ferry(["push", "--json", "-q", ...SETTINGS, tree, `${reg.host}/app:v1`]);
    const j = JSON.parse(r.stdout);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(j.upToDate, true);
    const dry = await ferry(["push", "--dry-run", "--json", "-q", ...SETTINGS, tree, `${reg.host}/dry/app:v1`]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(JSON.parse(dry.stdout).digest, j.digest);
    assert.equal(JSON.parse(dry.stdout).dryRun, true);
    const c = new RegistryClient({ host: reg.host });
    assert.equal(await c.manifestHead("dry/app", "v1"), undefined);
    assert.equal(await c.blobHead("dry/app", j.layer.digest), undefined);
    await c.close();
  });

  it("writes Docker schema 2 with --format docker", async () => {
    const r = await ferry(["push", "--json", "-q", "--format", "docker", tree, `${reg.host}/docker/app:v1`]);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse((await skopeoInspectRaw(`${reg.host}/docker/app:v1`)).toString());
    assert.equal(m.mediaType, "application/vnd.docker.distribution.manifest.v2+json");
    assert.equal(m.layers[0].mediaType, "application/vnd.docker.image.rootfs.diff.tar.gzip");
    assert.equal(m.config.mediaType, "application/vnd.docker.container.image.v1+json");
  });
});

describe("ferry push into an OCI layout", () => {
  it("writes the same image into oci:DIR:TAG, which skopeo reads and GNU tar unpacks", async () => {
    const layout = join(tmp, "layout");
    const r = await ferry(["push", "--json", "-q", tree, `oci:${layout}:v1`]);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    const inRegistry = JSON.parse((await ferry(["push", "--dry-run", "--json", "-q", tree, `${reg.host}/x`])).stdout);
    assert.equal(result.digest, inRegistry.digest, "the same image wherever it goes");
    assert.equal(result.addressByTag, `oci:${layout}:v1`);
    const { stdout } = await run("skopeo", ["inspect", "--raw", `oci:${layout}:v1`]);
    assert.equal(`sha256:${createHash("sha256").update(stdout).digest("hex")}`, result.digest);
    const { dir } = await pullAndUnpack(`oci:${layout}:v1`);
    assert.deepEqual(await snapshot(dir, { owners: false }), await snapshot(tree, { owners: false }));
  });
});

describe("ferry push --base", () => {
  it("puts the layer on a base ferry pushed: base layers mounted, diff_ids and history consistent, both layers unpack to the union", async () => {
    const top = join(tmp, "top");
    await mkdir(join(top, "app"), { recursive: true });
    await writeFile(join(top, "app/run"), "#!/bin/sh\n");
    await chmod(join(top, "app/run"), 0o755);
    await writeFile(join(top, "etc-note"), "on top\n");
    const r = await ferry(["push", "--json", "-q", "--base", `${reg.host}/app:v1`, "--env", "A=2", "--workdir", "/app", top, `${reg.host}/derived:v1`]);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.equal(result.layers, 2);
    assert.deepEqual(result.blobs, { pushed: 2, skipped: 0, mounted: 1 });
    const { stdout } = await run("skopeo", ["inspect", "--config", "--tls-verify=false", `docker://${reg.host}/derived:v1`]);
    const config = JSON.parse(stdout);
    const base = JSON.parse((await ferry(["push", "--dry-run", "--json", "-q", tree, `${reg.host}/x`])).stdout);
    assert.deepEqual(config.rootfs.diff_ids, [base.layer.diffId, result.layer.diffId]);
    assert.equal(config.history.filter((h: { empty_layer?: boolean }) => !h.empty_layer).length, 2);
    assert.deepEqual(config.config, { Env: ["A=2"], Cmd: ["/bin/tool"], Labels: { team: "ferry" }, WorkingDir: "/app" });
    const pulled = await pullAndUnpack(`${reg.host}/derived:v1`);
    assert.equal(pulled.manifest.layers[0]?.digest, base.layer.digest);
    const union = [...(await snapshot(tree, { owners: false })), ...(await snapshot(top, { owners: false }))].sort();
    assert.deepEqual((await snapshot(pulled.dir, { owners: false })).sort(), union);
  });

  it("picks an index's entry by --platform, copies a base from another registry's layout, rebuilds a history that does not count", async () => {
    const index = randomIndex({ platforms: 3, layers: 2, layerSize: 5000, seed: "push-base" });
    const c = new RegistryClient({ host: reg.host });
    await pushImage(c, "multi", "v1", index);
    await c.close();
    const layout = join(tmp, "derived-layout");
    const r = await ferry(["push", "--json", "-q", "--base", `${reg.host}/multi:v1`, "--platform", "linux/arm64", tree, `oci:${layout}:arm`]);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.equal(result.platform, "linux/arm64/v8");
    assert.equal(result.layers, 3);
    assert.equal(result.blobs.pushed, 4, "two base layers copied, the new layer and the config");
    assert.equal(result.warnings.length, 1, "the generated base has no history");
    const { stdout } = await run("skopeo", ["inspect", "--config", `oci:${layout}:arm`]);
    const config = JSON.parse(stdout);
    assert.equal(config.architecture, "arm64");
    assert.equal(config.rootfs.diff_ids.length, 3);
    assert.equal(config.history.filter((h: { empty_layer?: boolean }) => !h.empty_layer).length, 3);
    const noMatch = await ferry(["push", "-q", "--base", `${reg.host}/multi:v1`, "--platform", "linux/riscv64", tree, `oci:${layout}:x`]);
    assert.equal(noMatch.code, 1);
    assert.match(noMatch.stderr, /PLATFORM_MISMATCH/);
  });
});

describe("ferry push, refused", () => {
  it("exits 2 on usage errors and 1 on a missing directory, before contacting anything", async () => {
    for (const args of [
      ["push", tree],
      ["push", join(tree, "bin/tool"), `${reg.host}/x:y`],
      ["push", "--env", "=x", tree, `${reg.host}/x:y`],
      ["push", "--format", "zip", tree, `${reg.host}/x:y`],
      ["push", "--workdir", "rel", tree, `${reg.host}/x:y`],
      ["push", "--cmd", "[1]", tree, `${reg.host}/x:y`],
      ["push", tree, `${reg.host}/x@sha256:${"a".repeat(64)}`],
    ]) {
      const r = await ferry(args);
      assert.equal(r.code, 2, `${args.join(" ")} → ${r.code}: ${r.stderr}`);
    }
    const missing = await ferry(["push", join(tmp, "nope"), "127.0.0.1:1/x:y"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /NOT_FOUND/);
    const help = await ferry(["--help"]);
    assert.match(help.stdout, /push DIR DST/);
  });

  it("fails with DIGEST_MISMATCH, storing nothing, when the tree changes between the two passes", async () => {
    const changing = join(tmp, "changing");
    await mkdir(changing);
    await writeFile(join(changing, "f"), "one\n");
    const layout = new OciLayoutStore(join(tmp, "changing-layout"));
    const sink = {
      ...layoutSink(layout),
      // Between the hashing pass and the upload pass, the file changes (same size).
      blobHead: async (digest: string) => {
        await writeFile(join(changing, "f"), "two\n");
        return layout.blobHead(digest);
      },
    };
    await rejectsWithCode(pushTree(sink, { ...REQ, tree: changing, tag: "t" }), "DIGEST_MISMATCH");
    assert.equal(await layout.manifestHead("t"), undefined);
  });
});

describe("ferry push, memory", () => {
  it("keeps its memory flat for a layer of 640 MiB (two streamed passes, nothing held, compressed or not)", async () => {
    const big = join(tmp, "big");
    await mkdir(big);
    // 512 MiB of zeros (cheap to gzip; catches a held tar) and 128 MiB of noise (incompressible; catches a held gzip).
    await run("truncate", ["-s", "512M", join(big, "sparse.bin")]);
    await pipeline(randomStream(128 * 1024 * 1024, "push-noise"), createWriteStream(join(big, "noise.bin")));
    const child = spawn(process.execPath, [BIN, "push", "-q", big, `oci:${join(tmp, "big-layout")}:v1`], { stdio: ["ignore", "ignore", "pipe"] });
    let peak = 0;
    const timer = setInterval(async () => {
      const status = await readFile(`/proc/${child.pid}/status`, "utf8").catch(() => "");
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      peak = Math.max(peak, kb * 1024);
    }, 50);
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    clearInterval(timer);
    assert.equal(code, 0, stderr);
    assert.ok(peak > 0, "sampled");
    // Node with tsx is ~100 MB; the pipeline's buffers and lazily collected chunks add ~50 MB.
    assert.ok(peak < 220 * 1024 * 1024, `peak RSS ${Math.round(peak / 1e6)} MB for a 640 MiB layer`);
  });
});
