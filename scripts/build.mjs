#!/usr/bin/env node
// Bundles the CLI into dist/ferry.mjs: one file loads ~35 ms faster than the module tree, and
// `ferry` runs many short commands (and benchmarks count that time). Code splitting keeps
// `ferry serve`'s pipeline (AWS SDK, middy, Powertools) in chunks that `ferry copy` never loads.
// Usage: node scripts/build.mjs [OUTDIR] (default dist; tests build elsewhere to run the bundle).
// `--prepare` (npm's prepare, on npm ci/install): without esbuild (an install that omits dev
// dependencies) it says so and stops without failing the install; bin/ferry.js then runs the
// TypeScript source through tsx.
const args = process.argv.slice(2);
const prepare = args.includes("--prepare");
const outdir = args.find((a) => !a.startsWith("--")) ?? "dist";
let build;
try {
  ({ build } = await import("esbuild"));
} catch (e) {
  if (!prepare) throw e;
  console.error("ferry: esbuild is not installed (dev dependencies omitted): no bundle; ferry runs from source through tsx.");
  process.exit(0);
}

await build({
  entryPoints: ["bin/cli.ts"],
  outdir,
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
