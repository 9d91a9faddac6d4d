#!/usr/bin/env node
// Runs node's test runner on every *.test.ts under the given folders (Node 20 does not expand
// globs itself). Usage: node scripts/run-tests.mjs test/unit test/integration [-- node test flags]
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const args = process.argv.slice(2);
const sep = args.indexOf("--");
const dirs = sep < 0 ? args : args.slice(0, sep);
const extra = sep < 0 ? [] : args.slice(sep + 1);
const files = dirs
  .flatMap((d) => readdirSync(d, { recursive: true }).map((f) => join(d, String(f))))
  .filter((f) => f.endsWith(".test.ts"))
  .sort();
if (files.length === 0) {
  console.error(`no test files under ${dirs.join(", ")}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=600000", ...extra, ...files], {
  stdio: "inherit",
});
process.exit(r.status ?? 1);
