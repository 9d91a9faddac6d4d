#!/usr/bin/env node
// Bundles the CLI into dist/ferry.mjs: one file loads ~35 ms faster than the module tree, and
// `ferry` runs many short commands (and benchmarks count that time).
import { build } from "esbuild";

await build({
  entryPoints: ["lib/cli/run.ts"],
  outfile: "dist/ferry.mjs",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  minifySyntax: true,
  // undici and others are CommonJS: give the ESM bundle a require().
  banner: { js: "import { createRequire as __ferryRequire } from 'node:module'; const require = __ferryRequire(import.meta.url);" },
  logLevel: "warning",
});
