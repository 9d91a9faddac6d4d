/** Layers from a directory: the walk's order and normalisation, the two passes giving the same bytes. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, link, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { measureLayer, openLayer } from "../../../lib/push/layer.ts";
import { walkTree } from "../../../lib/push/walk.ts";

const run = promisify(execFile);
let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "ferry-layer-"));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** The same small tree, its files created in the order given. */
async function tree(name: string, order: string[], mtime: number): Promise<string> {
  const root = join(tmp, name);
  await mkdir(join(root, "b/empty"), { recursive: true });
  await mkdir(join(root, "a"), { recursive: true });
  for (const f of order) await writeFile(join(root, f), `content of ${f}\n`);
  await chmod(join(root, "a/run"), 0o4755);
  await link(join(root, "b/data"), join(root, "a/data-link"));
  await symlink("../b/data", join(root, "a/sym"));
  await run("mkfifo", [join(root, "fifo")]);
  for (const p of ["a", "b", "b/empty", "a/run", "b/data", "Z"]) await utimes(join(root, p), mtime, mtime);
  return root;
}

async function collect(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe("walkTree", () => {
  it("sorts names, puts a directory before its contents, makes the second name of a file a hard link", async () => {
    const root = await tree("walk", ["b/data", "a/run", "Z"], 5000);
    const skipped: string[] = [];
    const names: string[] = [];
    for await (const { entry } of walkTree(root, { mtime: 7, onSkip: (p) => skipped.push(p) })) {
      names.push(`${entry.type} ${entry.name}${entry.linkname ? ` -> ${entry.linkname}` : ""}`);
      assert.equal(entry.mtime, 7);
    }
    assert.deepEqual(names, [
      "file Z",
      "dir a",
      "file a/data-link",
      "file a/run",
      "symlink a/sym -> ../b/data",
      "dir b",
      "hardlink b/data -> a/data-link",
      "dir b/empty",
    ]);
    assert.deepEqual(skipped, ["fifo"]);
  });
});

describe("measureLayer and openLayer", () => {
  it("give the same digests for the same tree made in another order, with other times", async () => {
    const one = await tree("one", ["b/data", "a/run", "Z"], 1_000_000);
    const two = await tree("two", ["Z", "a/run", "b/data"], 2_000_000);
    const m1 = await measureLayer(one, { mtime: 0 });
    const m2 = await measureLayer(two, { mtime: 0 });
    assert.deepEqual(m1, m2);
    const m3 = await measureLayer(two, { mtime: 1 });
    assert.notEqual(m3.diffId, m1.diffId, "the normalised mtime is part of the layer");
  });

  it("hashes in the first pass exactly the bytes the second pass streams", async () => {
    const root = await tree("twice", ["b/data", "a/run", "Z"], 0);
    await writeFile(join(root, "big"), Buffer.alloc(3 * 1024 * 1024 + 17, 7));
    const m = await measureLayer(root, { mtime: 0 });
    const bytes = await collect(openLayer(root, { mtime: 0 }));
    assert.equal(bytes.byteLength, m.size);
    assert.equal(`sha256:${createHash("sha256").update(bytes).digest("hex")}`, m.digest);
    const tar = gunzipSync(bytes);
    assert.equal(tar.byteLength, m.tarSize);
    assert.equal(`sha256:${createHash("sha256").update(tar).digest("hex")}`, m.diffId);
    assert.deepEqual([...bytes.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3], "gzip header: no name, mtime 0");
  });

  it("fails the walk when a file cannot be read, through the stream", async () => {
    const root = join(tmp, "gone");
    await assert.rejects(measureLayer(root, { mtime: 0 }), { code: "ENOENT" });
    await assert.rejects(collect(openLayer(root, { mtime: 0 })), { code: "ENOENT" });
  });
});
