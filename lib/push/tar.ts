/**
 * A tar header writer (POSIX ustar, with pax extended headers for what ustar cannot hold): pure
 * functions from an entry to its 512-byte blocks, so every byte of a layer is ours to decide.
 * Owners are always 0:0 with no user or group names. Spec: pubs.opengroup.org pax(1), "ustar
 * Interchange Format" and "pax Interchange Format".
 */

export const BLOCK = 512;

/** Two zero blocks end an archive. */
export const TAR_END: Buffer = Buffer.alloc(2 * BLOCK);

/** What an archive entry is. Hard links point at an earlier entry's name; symlinks at anything. */
export type TarEntryType = "file" | "dir" | "symlink" | "hardlink";

/** One archive member as written: `name` relative, with `/` separators, no trailing slash. */
export interface TarEntry {
  name: string;
  type: TarEntryType;
  /** Permission bits, setuid/setgid/sticky included (`mode & 0o7777`). */
  mode: number;
  /** Content bytes that follow the header (regular files only; 0 otherwise). */
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** Symlink target or hard-link target name. */
  linkname?: string;
}

const TYPEFLAG: Record<TarEntryType | "pax", string> = { file: "0", hardlink: "1", symlink: "2", dir: "5", pax: "x" };
/** The largest size and mtime an 11-digit octal field holds (8 GiB - 1). */
const MAX_OCTAL_11 = 0o77777777777;
/** Name of every pax extended header member: fixed, so it never depends on the tree's path. */
const PAX_HEADER_NAME = "././@PaxHeader";

/** The header block(s) of `entry`: a pax extended header first when ustar cannot hold it. */
export function tarHeader(entry: TarEntry): Buffer {
  const name = entry.type === "dir" ? `${entry.name}/` : entry.name;
  const linkname = entry.linkname ?? "";
  const pax: Array<[string, string]> = [];
  if (!fitsUstar(name, 100)) pax.push(["path", name]);
  if (!fitsUstar(linkname, 100)) pax.push(["linkpath", linkname]);
  if (entry.size > MAX_OCTAL_11) pax.push(["size", String(entry.size)]);
  if (entry.mtime < 0 || entry.mtime > MAX_OCTAL_11) throw new RangeError(`mtime ${entry.mtime} is outside the range tar headers hold`);
  const header = ustarBlock({
    name,
    linkname,
    typeflag: TYPEFLAG[entry.type],
    mode: entry.mode & 0o7777,
    size: entry.size > MAX_OCTAL_11 ? 0 : entry.size,
    mtime: entry.mtime,
  });
  if (pax.length === 0) return header;
  const body = paxRecords(pax);
  const paxHeader = ustarBlock({ name: PAX_HEADER_NAME, linkname: "", typeflag: TYPEFLAG.pax, mode: 0o644, size: body.byteLength, mtime: entry.mtime });
  return Buffer.concat([paxHeader, body, padding(body.byteLength), header]);
}

/** Zero bytes that round `size` up to a whole block. */
export function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest);
}

/** True when `s` is ASCII and at most `max` bytes: kept in the ustar field as is. */
function fitsUstar(s: string, max: number): boolean {
  return s.length <= max && !/[^\x20-\x7e]/.test(s);
}

/** `LEN key=value\n` records; LEN counts its own digits (pax "extended header" format). */
export function paxRecords(records: Array<[string, string]>): Buffer {
  return Buffer.concat(
    records.map(([key, value]) => {
      const rest = Buffer.byteLength(` ${key}=${value}\n`);
      let digits = 1;
      while (String(rest + digits).length !== digits) digits++;
      return Buffer.from(`${rest + digits} ${key}=${value}\n`);
    }),
  );
}

interface UstarFields {
  name: string;
  linkname: string;
  typeflag: string;
  mode: number;
  size: number;
  mtime: number;
}

/** One ustar header block. Fields too long for ustar are cut here; the pax header carries them whole. */
function ustarBlock(f: UstarFields): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(ascii(f.name, 100), 0, "latin1");
  octal(b, 100, 8, f.mode);
  octal(b, 108, 8, 0); // uid
  octal(b, 116, 8, 0); // gid
  octal(b, 124, 12, f.size);
  octal(b, 136, 12, f.mtime);
  b.write(f.typeflag, 156, "latin1");
  b.write(ascii(f.linkname, 100), 157, "latin1");
  b.write("ustar\u000000", 257, "latin1"); // magic "ustar\0", version "00"
  // uname and gname (265, 297) stay empty: no names, only ids 0.
  octal(b, 329, 8, 0); // devmajor
  octal(b, 337, 8, 0); // devminor
  // The checksum is computed with its own field as eight spaces, then written as 6 digits, NUL, space.
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, "latin1");
  return b;
}

/** Octal digits filling a field of `width` bytes but the last, which is NUL. */
function octal(b: Buffer, offset: number, width: number, n: number): void {
  b.write(n.toString(8).padStart(width - 1, "0"), offset, "latin1");
}

/** The value as it can stand in a ustar field: non-ASCII as `_`, cut to `max` bytes. */
function ascii(s: string, max: number): string {
  return s.replace(/[^\x20-\x7e]/g, "_").slice(0, max);
}
