/**
 * Walks an unpacked root filesystem in a fixed order (each directory's names sorted by code
 * unit, a directory before its contents) and says what each path becomes in the layer: the same
 * tree always gives the same entries, whatever the disk's order, owners or times.
 */
import type { Stats } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import type { TarEntry } from "./tar.ts";

/** An entry to write, and where its content is read from (regular files). */
export interface WalkEntry {
  entry: TarEntry;
  /** Absolute path on disk. */
  path: string;
}

/** What the walk does with each path. */
export interface WalkOptions {
  /** The mtime every entry gets (seconds since the epoch). */
  mtime: number;
  /** Told of each path left out (device, socket, FIFO), with why. */
  onSkip?: (path: string, why: string) => void;
}

/** Every entry under `root` (the root itself is not an entry), in archive order. */
export async function* walkTree(root: string, opts: WalkOptions): AsyncGenerator<WalkEntry> {
  // First archive name of each multiply-linked regular file, by device and inode: later names
  // become hard links to it. Holds only files with more than one link.
  const firstName = new Map<string, string>();
  yield* walkDir(root, "", opts, firstName);
}

async function* walkDir(dir: string, prefix: string, opts: WalkOptions, firstName: Map<string, string>): AsyncGenerator<WalkEntry> {
  // Plain `<` comparison: locale-independent, unlike localeCompare.
  const names = (await readdir(dir)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const n of names) {
    const path = join(dir, n);
    const name = prefix ? `${prefix}/${n}` : n;
    const st = await lstat(path);
    const entry = await entryFor(path, name, st, opts, firstName);
    if (!entry) continue;
    yield { entry, path };
    if (entry.type === "dir") yield* walkDir(path, name, opts, firstName);
  }
}

async function entryFor(path: string, name: string, st: Stats, opts: WalkOptions, firstName: Map<string, string>): Promise<TarEntry | undefined> {
  const base = { name, mode: st.mode & 0o7777, mtime: opts.mtime, size: 0 };
  if (st.isDirectory()) return { ...base, type: "dir" };
  if (st.isSymbolicLink()) return { ...base, type: "symlink", linkname: await readlink(path) };
  if (st.isFile()) {
    if (st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const first = firstName.get(key);
      if (first !== undefined) return { ...base, type: "hardlink", linkname: first };
      firstName.set(key, name);
    }
    return { ...base, type: "file", size: st.size };
  }
  // Devices are the runtime's to create (and need privileges to unpack); a socket or FIFO is
  // the trace of a running process, not content. Left out, and said so, rather than refused.
  const what = st.isCharacterDevice() ? "character device" : st.isBlockDevice() ? "block device" : st.isSocket() ? "socket" : "FIFO";
  opts.onSkip?.(name, `${what}, left out of the layer`);
  return undefined;
}
