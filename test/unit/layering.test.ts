/**
 * The layering rule, checked on the source (biome's noRestrictedImports enforces it in lint too):
 * lib/ imports no Lambda, middy, Powertools or CDK code; lib/registry, lib/oci and lib/replicate
 * import nothing from the AWS SDK.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
const imports = (file: string) =>
  [...readFileSync(file, "utf8").matchAll(/(?:import|export)\s[^"']*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1] ?? m[2] ?? "");

const FORBIDDEN_IN_LIB = /^(@middy\/|aws-lambda$|aws-cdk-lib|constructs$|@aws-lambda-powertools\/)/;
const FORBIDDEN_IN_CORE = /^@aws-sdk\//;

it("lib/ never imports Lambda, middy, Powertools or CDK; lib/registry, oci and replicate never the AWS SDK", () => {
  const libFiles = files(join(root, "lib"));
  assert.ok(libFiles.length > 10);
  const bad: string[] = [];
  for (const f of libFiles) {
    const rel = relative(root, f);
    for (const spec of imports(f)) {
      if (FORBIDDEN_IN_LIB.test(spec)) bad.push(`${rel} imports ${spec}`);
      if (/^lib\/(registry|oci|replicate)\//.test(rel) && FORBIDDEN_IN_CORE.test(spec)) bad.push(`${rel} imports ${spec}`);
    }
  }
  assert.deepEqual(bad, []);
});

it("the import scanner sees imports (so the rule above can fail)", () => {
  const sample = 'import { x } from "@middy/core";\nexport { y } from "./y.ts";\nconst z = await import("aws-cdk-lib");';
  const found = [...sample.matchAll(/(?:import|export)\s[^"']*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1] ?? m[2]);
  assert.deepEqual(found, ["@middy/core", "./y.ts", "aws-cdk-lib"]);
});
