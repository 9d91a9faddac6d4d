/**
 * Files inside an OCI image layout directory, never followed out of it. The directory itself is
 * the user's to name (a symlink or not); below it, nothing is a link: every directory on the way
 * is checked with lstat, files are opened with O_NOFOLLOW, and — on Linux, where it is one
 * readlink — the opened descriptor's real path must be the expected one, so a directory swapped
 * for a link between the check and the open is caught too. Anything else fails closed with
 * UNSAFE_PATH. Writes go to a fresh temp file (O_CREAT|O_EXCL|O_NOFOLLOW) renamed into place
 * after the directories are checked again; a rename replaces a planted link, never writes through it.
 */
import { randomUUID } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, lstat, mkdir, open, readlink, realpath, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { FerryError } from "../errors.ts";

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL } = constants;
// Node has O_NOFOLLOW wherever the platform does (not on Windows); there the lstat checks remain.
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;

/** The files of one layout directory; `parts` name a path below it (`["blobs", "sha256", hex]`). */
export class LayoutFiles {
  readonly dir: string;
  private root: string | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  private unsafe(parts: string[], why: string): FerryError {
    return new FerryError("UNSAFE_PATH", `oci:${this.dir}: ${parts.join("/")} ${why}; ferry reads and writes nothing outside the layout`);
  }

  /** Checks the directories leading to `parts` (not the last part): real directories. False when one is missing. */
  private async dirsOk(parts: string[]): Promise<boolean> {
    for (let i = 1; i < parts.length; i++) {
      const at = parts.slice(0, i);
      const st = await lstat(join(this.dir, ...at)).catch((e) => (errno(e) === "ENOENT" ? undefined : Promise.reject(e)));
      if (!st) return false;
      if (st.isSymbolicLink()) throw this.unsafe(at, "is a symbolic link");
      if (!st.isDirectory()) throw this.unsafe(at, "is not a directory");
    }
    return true;
  }

  /** Size of the regular file at `parts`; undefined when it is absent. */
  async size(parts: string[]): Promise<number | undefined> {
    if (!(await this.dirsOk(parts))) return undefined;
    const st = await lstat(join(this.dir, ...parts)).catch((e) => (errno(e) === "ENOENT" ? undefined : Promise.reject(e)));
    if (!st) return undefined;
    if (st.isSymbolicLink()) throw this.unsafe(parts, "is a symbolic link");
    if (!st.isFile()) throw this.unsafe(parts, "is not a regular file");
    return st.size;
  }

  /** Opens the regular file at `parts` for reading (the caller closes it); undefined when absent. */
  async openRead(parts: string[]): Promise<FileHandle | undefined> {
    if (!(await this.dirsOk(parts))) return undefined;
    let fh: FileHandle;
    try {
      fh = await open(join(this.dir, ...parts), O_RDONLY | O_NOFOLLOW);
    } catch (e) {
      if (errno(e) === "ENOENT") return undefined;
      if (errno(e) === "ELOOP") throw this.unsafe(parts, "is a symbolic link");
      throw e;
    }
    try {
      await this.checkOpened(fh, parts);
    } catch (e) {
      await fh.close();
      throw e;
    }
    return fh;
  }

  /** The whole file at `parts` (index.json, manifests); undefined when absent. */
  async read(parts: string[]): Promise<Buffer | undefined> {
    const fh = await this.openRead(parts);
    if (!fh) return undefined;
    try {
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  }

  /** Creates the directories leading to `parts` below the layout: real directories, never through a link. */
  async ensureDirs(parts: string[]): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (let i = 1; i < parts.length; i++) {
      const at = parts.slice(0, i);
      await mkdir(join(this.dir, ...at)).catch((e) => (errno(e) === "EEXIST" ? undefined : Promise.reject(e)));
      const st = await lstat(join(this.dir, ...at));
      if (st.isSymbolicLink()) throw this.unsafe(at, "is a symbolic link");
      if (!st.isDirectory()) throw this.unsafe(at, "is not a directory");
    }
  }

  /**
   * Writes the file at `parts` atomically: `fill` writes a fresh temp file beside it, which is
   * renamed into place unless `fill` throws (then it is removed and nothing changed).
   */
  async write(parts: string[], fill: (fh: FileHandle) => Promise<void>): Promise<void> {
    await this.ensureDirs(parts);
    const tmpParts = [...parts.slice(0, -1), `${parts.at(-1)}.${randomUUID()}.tmp`];
    const tmp = join(this.dir, ...tmpParts);
    const fh = await open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644);
    try {
      try {
        await this.checkOpened(fh, tmpParts);
        await fill(fh);
      } finally {
        await fh.close();
      }
      await this.dirsOk(parts);
      await rename(tmp, join(this.dir, ...parts));
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /** The opened file is a regular file, and (where /proc tells) really at `parts` below the layout. */
  private async checkOpened(fh: FileHandle, parts: string[]): Promise<void> {
    if (!(await fh.stat()).isFile()) throw this.unsafe(parts, "is not a regular file");
    const real = await readlink(`/proc/self/fd/${fh.fd}`).catch(() => undefined);
    if (real === undefined) return;
    this.root ??= await realpath(this.dir);
    // A file replaced by a concurrent rename still reads as itself, " (deleted)".
    if (real.replace(/ \(deleted\)$/, "") !== join(this.root, ...parts)) throw this.unsafe(parts, "resolves outside the layout");
  }
}
