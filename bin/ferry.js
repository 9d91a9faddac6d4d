#!/usr/bin/env node
// The `ferry` command. Runs the compiled CLI (`npm run build`) when it is newer than every source
// file, else the TypeScript source through tsx, so a stale build is never run by mistake.
import { existsSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = new URL("../", import.meta.url);
const built = new URL("dist/ferry.mjs", root);

function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith(".ts")) newest = Math.max(newest, statSync(`${e.parentPath ?? e.path}/${e.name}`).mtimeMs);
  }
  return newest;
}

// bin/cli.ts, lib/ and functions/ (which `ferry serve` runs) are all in the bundle.
const sourceDirs = ["bin", "lib", "functions"].map((d) => fileURLToPath(new URL(d, root))).filter((d) => existsSync(d));
const useBuilt = existsSync(built) && sourceDirs.every((d) => statSync(built).mtimeMs >= newestSource(d));
if (useBuilt) {
  await import(built.href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(new URL("bin/cli.ts", root).href);
}
