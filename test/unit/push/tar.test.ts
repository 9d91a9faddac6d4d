/** The tar writer, byte by byte and as GNU tar reads it (`tar -tvf`, and extraction). */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { lstat, mkdtemp, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { BLOCK, padding, paxRecords, TAR_END, type TarEntry, tarHeader } from "../../../lib/push/tar.ts";

const run = promisify(execFile);
let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "ferry-tar-"));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A whole archive: each entry's header, then its content and padding. */
function archive(entries: Array<TarEntry & { content?: Buffer }>): Buffer {
  return Buffer.concat([...entries.flatMap((e) => [tarHeader(e), ...(e.content ? [e.content, padding(e.content.byteLength)] : [])]), TAR_END]);
}

const field = (b: Buffer, offset: number, width: number) => b.subarray(offset, offset + width).toString("latin1");

describe("tarHeader", () => {
  it("writes a ustar block: octal fields, owner 0:0 without names, magic, a checksum that adds up", () => {
    const h = tarHeader({ name: "usr/bin/tool", type: "file", mode: 0o104755, size: 1234, mtime: 1_700_000_000 });
    assert.equal(h.byteLength, BLOCK);
    assert.equal(field(h, 0, 13), "usr/bin/tool\0");
    assert.equal(field(h, 100, 8), "0004755\0", "permission bits with setuid, file type bits dropped");
    assert.equal(field(h, 108, 8), "0000000\0");
    assert.equal(field(h, 116, 8), "0000000\0");
    assert.equal(field(h, 124, 12), `${(1234).toString(8).padStart(11, "0")}\0`);
    assert.equal(field(h, 136, 12), `${(1_700_000_000).toString(8).padStart(11, "0")}\0`);
    assert.equal(field(h, 156, 1), "0");
    assert.equal(field(h, 257, 8), "ustar\u000000");
    assert.equal(
      h.subarray(265, 329).every((b) => b === 0),
      true,
      "no user or group names",
    );
    const stored = Number.parseInt(field(h, 148, 6), 8);
    const copy = Buffer.from(h);
    copy.fill(0x20, 148, 156);
    assert.equal(
      stored,
      copy.reduce((a, b) => a + b, 0),
    );
    assert.equal(field(h, 154, 2), "\0 ");
  });

  it("ends directory names with a slash and types each kind of entry", () => {
    const type = (e: TarEntry) => field(tarHeader(e), 156, 1);
    const base = { mode: 0o755, size: 0, mtime: 0 };
    assert.equal(field(tarHeader({ ...base, name: "etc", type: "dir" }), 0, 5), "etc/\0");
    assert.equal(type({ ...base, name: "etc", type: "dir" }), "5");
    assert.equal(type({ ...base, name: "l", type: "symlink", linkname: "t" }), "2");
    assert.equal(type({ ...base, name: "h", type: "hardlink", linkname: "f" }), "1");
  });

  it("puts a pax header first for a long path or link, and for non-ASCII names; not otherwise", () => {
    const long = `${"d".repeat(60)}/${"e".repeat(60)}`;
    const h = tarHeader({ name: long, type: "symlink", mode: 0o777, size: 0, mtime: 0, linkname: "x".repeat(101) });
    assert.equal(field(h, 156, 1), "x");
    const body = h.subarray(BLOCK, BLOCK + Number.parseInt(field(h, 124, 11), 8)).toString("utf8");
    assert.match(body, new RegExp(`^\\d+ path=${long}\n\\d+ linkpath=x{101}\n$`));
    assert.equal(h.byteLength, 3 * BLOCK);
    assert.equal(field(h, 2 * BLOCK + 156, 1), "2");
    assert.equal(tarHeader({ name: "é", type: "file", mode: 0o644, size: 0, mtime: 0 }).byteLength, 3 * BLOCK);
    assert.equal(tarHeader({ name: "a".repeat(100), type: "file", mode: 0o644, size: 0, mtime: 0 }).byteLength, BLOCK);
  });

  it("carries a size over 8 GiB in pax, as GNU tar lists it", async () => {
    const size = 2 ** 33 + 5;
    const h = tarHeader({ name: "big", type: "file", mode: 0o644, size, mtime: 0 });
    assert.match(h.toString("latin1"), new RegExp(`\\d+ size=${size}\n`));
    const file = join(tmp, "big.tar");
    await writeFile(file, h);
    // The content is missing, so tar fails after listing the header: the listing is what counts.
    const out = await run("tar", ["-tvf", file]).catch((e: { stdout: string }) => e);
    assert.match(out.stdout, new RegExp(`-rw-r--r-- 0/0 +${size} 1970-01-01 00:00 big`));
  });
});

describe("paxRecords", () => {
  it("counts each record's own length, digits included, across digit boundaries", () => {
    for (let n = 1; n < 1200; n += 7) {
      const rec = paxRecords([["path", "p".repeat(n)]]);
      const len = Number(rec.toString().split(" ")[0]);
      assert.equal(len, rec.byteLength, `value of ${n} bytes`);
    }
    assert.equal(paxRecords([["path", "é"]]).toString(), "11 path=é\n", "the length is in bytes (é is two), not characters");
  });
});

describe("an archive GNU tar reads", () => {
  const long = `${"deep/".repeat(25)}file.txt`;
  const entries: Array<TarEntry & { content?: Buffer }> = [
    { name: "bin", type: "dir", mode: 0o755, size: 0, mtime: 0 },
    { name: "bin/su", type: "file", mode: 0o4755, size: 5, mtime: 0, content: Buffer.from("su!!\n") },
    { name: "bin/sg", type: "file", mode: 0o2711, size: 0, mtime: 0 },
    { name: "tmp", type: "dir", mode: 0o1777, size: 0, mtime: 0 },
    { name: "bin/sh", type: "symlink", mode: 0o777, size: 0, mtime: 0, linkname: "/usr/bin/../bin/busybox" },
    { name: "bin/su2", type: "hardlink", mode: 0o4755, size: 0, mtime: 0, linkname: "bin/su" },
    { name: long, type: "file", mode: 0o600, size: 3, mtime: 86400, content: Buffer.from("abc") },
    { name: "long-link", type: "hardlink", mode: 0o600, size: 0, mtime: 0, linkname: long },
    { name: "naïve", type: "file", mode: 0o644, size: 1, mtime: 0, content: Buffer.from("n") },
  ];

  it("lists every entry with its type, mode, owner, size, time and link", async () => {
    const file = join(tmp, "a.tar");
    await writeFile(file, archive(entries));
    const { stdout } = await run("tar", ["--numeric-owner", "-tvf", file]);
    assert.deepEqual(stdout.trimEnd().split("\n"), [
      "drwxr-xr-x 0/0               0 1970-01-01 00:00 bin/",
      "-rwsr-xr-x 0/0               5 1970-01-01 00:00 bin/su",
      "-rwx--s--x 0/0               0 1970-01-01 00:00 bin/sg",
      "drwxrwxrwt 0/0               0 1970-01-01 00:00 tmp/",
      "lrwxrwxrwx 0/0               0 1970-01-01 00:00 bin/sh -> /usr/bin/../bin/busybox",
      "hrwsr-xr-x 0/0               0 1970-01-01 00:00 bin/su2 link to bin/su",
      `-rw------- 0/0               3 1970-01-02 00:00 ${long}`,
      `hrw------- 0/0               0 1970-01-01 00:00 long-link link to ${long}`,
      "-rw-r--r-- 0/0               1 1970-01-01 00:00 naïve",
    ]);
  });

  it("extracts contents, modes, links and hard-link identity", async () => {
    const file = join(tmp, "b.tar");
    const dir = await mkdtemp(join(tmp, "x-"));
    await writeFile(file, archive(entries));
    await run("tar", ["--same-owner", "-p", "-xf", file, "-C", dir]);
    assert.equal(await readFile(join(dir, "bin/su"), "utf8"), "su!!\n");
    assert.equal((await lstat(join(dir, "bin/su"))).mode & 0o7777, 0o4755);
    assert.equal((await lstat(join(dir, "bin/sg"))).mode & 0o7777, 0o2711);
    assert.equal((await lstat(join(dir, "tmp"))).mode & 0o7777, 0o1777);
    assert.equal(await readlink(join(dir, "bin/sh")), "/usr/bin/../bin/busybox");
    assert.equal((await lstat(join(dir, "bin/su2"))).ino, (await lstat(join(dir, "bin/su"))).ino);
    assert.equal((await lstat(join(dir, "long-link"))).ino, (await lstat(join(dir, long))).ino);
    assert.equal(await readFile(join(dir, long), "utf8"), "abc");
    assert.equal(await readFile(join(dir, "naïve"), "utf8"), "n");
  });
});
