/**
 * `ferry serve`'s data directory: where it is by default, and a lock so that two servers never
 * open one store. The lock names its owner's pid; a lock left by a process that no longer runs
 * (`kill -9`) is taken over.
 */
import { openSync, readFileSync, rmSync, writeSync, closeSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { FerryError } from "../errors.ts";

/** `$XDG_STATE_HOME/ferry`, else `~/.local/state/ferry`. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_STATE_HOME || join(homedir(), ".local", "state"), "ferry");
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the lock of `dir`; resolves to its release. INVALID_CONFIG when another live process holds it. */
export function lockDataDir(dir: string): () => void {
  const file = join(dir, "serve.pid");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = Number(readFileSync(file, "utf8").trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new FerryError("INVALID_CONFIG", `data directory ${dir} is in use by another ferry serve (pid ${pid}); stop it or pass --data-dir`);
      }
      rmSync(file, { force: true }); // left by a process that is gone
    }
  }
  throw new FerryError("INVALID_CONFIG", `cannot lock data directory ${dir}`);
}
