#!/usr/bin/env node
// The `ferry` command. Runs the compiled CLI when it has been built (`npm run build`), else the
// TypeScript source through tsx.
import { existsSync } from "node:fs";

const built = new URL("../dist/lib/cli/main.js", import.meta.url);
if (existsSync(built)) {
  const { main } = await import(built.href);
  process.exitCode = await main(process.argv.slice(2));
} else {
  const { register } = await import("tsx/esm/api");
  register();
  const { main } = await import(new URL("../lib/cli/main.ts", import.meta.url).href);
  process.exitCode = await main(process.argv.slice(2));
}
