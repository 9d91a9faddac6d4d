#!/usr/bin/env node
// The npm registry mirror this project installs from serves only the Linux builds of Biome's
// per-platform binaries, so `npm install` cannot record the others in package-lock.json, and
// `npm ci` then refuses the lock ("Missing: @biomejs/cli-darwin-arm64"). This records each
// missing one as an optional, platform-restricted entry: npm skips it on every machine it does
// not fit, and never needs to fetch it. Run after `npm install` changes the lock.
import { readFileSync, writeFileSync } from "node:fs";

const PLATFORMS = {
  "android-arm64": { os: ["android"], cpu: ["arm64"] },
  "android-x64": { os: ["android"], cpu: ["x64"] },
  "darwin-arm64": { os: ["darwin"], cpu: ["arm64"] },
  "darwin-x64": { os: ["darwin"], cpu: ["x64"] },
  "linux-arm64": { os: ["linux"], cpu: ["arm64"], libc: ["glibc"] },
  "linux-arm64-musl": { os: ["linux"], cpu: ["arm64"], libc: ["musl"] },
  "linux-x64": { os: ["linux"], cpu: ["x64"], libc: ["glibc"] },
  "linux-x64-musl": { os: ["linux"], cpu: ["x64"], libc: ["musl"] },
  "win32-arm64": { os: ["win32"], cpu: ["arm64"] },
  "win32-x64": { os: ["win32"], cpu: ["x64"] },
};
const lock = JSON.parse(readFileSync("package-lock.json", "utf8"));
const biome = lock.packages["node_modules/@biomejs/biome"];
let added = 0;
for (const [name, version] of Object.entries(biome?.optionalDependencies ?? {})) {
  const key = `node_modules/${name}`;
  if (lock.packages[key]) continue;
  const suffix = name.replace("@biomejs/cli-", "");
  lock.packages[key] = { version, dev: true, optional: true, ...(PLATFORMS[suffix] ?? {}), license: "MIT OR Apache-2.0" };
  added++;
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : 1)));
writeFileSync("package-lock.json", `${JSON.stringify(lock, null, 2)}\n`);
console.log(`recorded ${added} platform-only optional entries`);
