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

/** Every circle in an import graph (file → files it imports), each as the path that closes it. */
export function circles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (n: string) => {
    state.set(n, "open");
    stack.push(n);
    for (const d of graph.get(n) ?? []) {
      if (state.get(d) === "open") found.push([...stack.slice(stack.indexOf(d)), d]);
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(n, "done");
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  return found;
}

/** lib/'s import graph: relative imports resolved to repository paths. */
function libGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of files(join(root, "lib"))) {
    const deps = importsIn(readFileSync(f, "utf8"))
      .filter((spec) => spec.startsWith("."))
      .map((spec) => relative(root, resolve(dirname(f), spec)));
    graph.set(relative(root, f), deps);
  }
  return graph;
}

it("no two files of lib/ import each other in a circle", () => {
  const graph = libGraph();
  assert.ok((graph.get("lib/replicate/copy.ts") ?? []).includes("lib/replicate/root-plan.ts"), "the graph resolves relative imports");
  assert.deepEqual(circles(graph), []);
});

it("the circle finder finds direct and longer circles, and none in a tree", () => {
  const g = (o: Record<string, string[]>) => new Map(Object.entries(o));
  assert.deepEqual(circles(g({ a: ["b"], b: ["a"] })), [["a", "b", "a"]]);
  assert.deepEqual(circles(g({ a: ["b"], b: ["c"], c: ["a"], d: ["a"] })), [["a", "b", "c", "a"]]);
  assert.deepEqual(circles(g({ a: ["b", "c"], b: ["c"], c: [] })), []);
});

/** Files allowed over the limit, each with the reason (the closing note repeats it). */
const LONG_FILES: Record<string, string> = {};

it("no file of lib/ is over 300 lines", () => {
  const long = files(join(root, "lib"))
    .map((f) => ({ file: relative(root, f), lines: readFileSync(f, "utf8").split("\n").length }))
    .filter((x) => x.lines > 300 && !(x.file in LONG_FILES));
  assert.deepEqual(long, []);
});
