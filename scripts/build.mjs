#!/usr/bin/env node
// Bundles the CLI into dist/ferry.mjs: one file loads ~35 ms faster than the module tree, and
// `ferry` runs many short commands (and benchmarks count that time). Code splitting keeps
// `ferry serve`'s pipeline (AWS SDK, middy, Powertools) in chunks that `ferry copy` never loads.
// Usage: node scripts/build.mjs [OUTDIR] (default dist; tests build elsewhere to run the bundle).
import { build } from "esbuild";

await build({
  entryPoints: ["bin/cli.ts"],
  outdir: process.argv[2] ?? "dist",
  entryNames: "ferry",
  chunkNames: "chunks/[name]-[hash]",
  outExtension: { ".js": ".mjs" },
  splitting: true,
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
