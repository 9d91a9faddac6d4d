/**
 * The layering rule, checked on the source (biome's noRestrictedImports enforces part of it in
 * lint too): lib/ imports no Lambda, middy, Powertools or CDK code, and nothing from functions/,
 * infra/, bin/, test/ or bench/ (relative paths resolved, dynamic imports included); lib/registry,
 * lib/oci and lib/replicate import nothing from the AWS SDK.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
const IMPORT = /(?:import|export)\s[^"']*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
const importsIn = (text: string) => [...text.matchAll(IMPORT)].map((m) => m[1] ?? m[2] ?? "");

const FORBIDDEN_IN_LIB = /^(@middy\/|aws-lambda$|aws-cdk-lib|constructs$|@aws-lambda-powertools\/)/;
const FORBIDDEN_IN_CORE = /^@aws-sdk\//;
const OUTSIDE_LIB = /^(functions|infra|bin|test|bench|scripts)\//;

/** Every rule broken by `file` (a path under the repository) importing `spec`. */
export function violations(rel: string, spec: string): string[] {
  const bad: string[] = [];
  if (FORBIDDEN_IN_LIB.test(spec)) bad.push(`${rel} imports ${spec}`);
  if (/^lib\/(registry|oci|replicate)\//.test(rel) && FORBIDDEN_IN_CORE.test(spec)) bad.push(`${rel} imports ${spec}`);
  if (spec.startsWith(".")) {
    const target = relative(root, resolve(dirname(join(root, rel)), spec));
    if (OUTSIDE_LIB.test(target) || target.startsWith("..")) bad.push(`${rel} imports ${target}, outside lib/`);
  }
  return bad;
}

it("lib/ never imports Lambda, middy, Powertools, CDK or anything outside lib/; lib/registry, oci and replicate never the AWS SDK", () => {
  const libFiles = files(join(root, "lib"));
  assert.ok(libFiles.length > 10);
  const bad = libFiles.flatMap((f) => importsIn(readFileSync(f, "utf8")).flatMap((spec) => violations(relative(root, f), spec)));
  assert.deepEqual(bad, []);
});

it("the scanner sees every kind of import, and the rules catch each kind of breach (so the test above can fail)", () => {
  const sample =
    'import { x } from "@middy/core";\nexport { y } from "./y.ts";\nconst z = await import("aws-cdk-lib");\nawait import("../../functions/local.ts");';
  assert.deepEqual(importsIn(sample), ["@middy/core", "./y.ts", "aws-cdk-lib", "../../functions/local.ts"]);
  assert.equal(violations("lib/cli/serve.ts", "../../functions/local.ts").length, 1);
  assert.equal(violations("lib/pipeline/x.ts", "../../test/helpers/images.ts").length, 1);
  assert.equal(violations("lib/pipeline/x.ts", "../../infra/ferry.ts").length, 1);
  assert.equal(violations("lib/registry/x.ts", "@aws-sdk/client-s3").length, 1);
  assert.equal(violations("lib/pipeline/x.ts", "@aws-lambda-powertools/logger").length, 1);
  assert.deepEqual(violations("lib/pipeline/x.ts", "../state/store.ts"), []);
  assert.deepEqual(violations("lib/state/x.ts", "@aws-sdk/client-dynamodb"), []);
});
