/**
 * SNS notifications on AWS: the functions that end jobs (api, plan, copy, merge, reconcile) may
 * sns:Publish on exactly the topics the config names, no other function may, and no statement
 * uses a wildcard; the SNS client is bundled only into those functions (esbuild, as the construct
 * bundles them).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { FerryStack } from "../../infra/stack.ts";
import { parseConfigText } from "../../lib/config.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const exampleText = readFileSync(join(root, "infra/example.ferry.yml"), "utf8");
const FAILURES = "arn:aws:sns:us-east-1:123456789012:ferry-failures";
const AUDIT = "arn:aws:sns:eu-west-1:210987654321:ferry-audit.fifo";
const withSns = `${exampleText}
notifications:
  - { sns: "${FAILURES}" }
  - { sns: "${AUDIT}", on: [failed, succeeded] }
  - { sns: "${FAILURES}", on: [succeeded] }
  - { url: "https://hooks.example.com/ferry" }
`;
const ENDERS = ["api", "plan", "copy", "merge", "reconcile"];
const ALL = [...ENDERS, "webhook", "backfill"];

type Fn = { Properties: { Role: { "Fn::GetAtt": [string] }; Handler?: string }; Metadata?: Record<string, string> };
type Statement = { Action: string | string[]; Resource: unknown; Effect: string };
const list = <T>(v: T | T[]) => (Array.isArray(v) ? v : [v]);

function synth(text: string, opts: { outdir?: string; bundle?: boolean } = {}) {
  const app = new App({
    ...(opts.outdir ? { outdir: opts.outdir } : {}),
    context: opts.bundle ? { "aws:cdk:enable-asset-metadata": true } : { "aws:cdk:bundling-stacks": [] },
  });
  const stack = new FerryStack(app, "FerrySns", { config: parseConfigText(text), env: { account: "123456789012", region: "us-east-1" } });
  return Template.fromJSON(app.synth().getStackArtifact(stack.artifactId).template as Record<string, unknown>);
}

/** The functions by name, from a template. */
function functionsOf(t: Template): Record<string, Fn> {
  const out: Record<string, Fn> = {};
  for (const [key, r] of Object.entries(t.findResources("AWS::Lambda::Function")) as Array<[string, Fn]>) {
    const m = /(Api|Webhook|Plan|Copy|Merge|Backfill|Reconcile)Function/.exec(key);
    if (m?.[1] && r.Properties.Handler === "index.handler") out[m[1].toLowerCase()] = r;
  }
  assert.deepEqual(Object.keys(out).sort(), [...ALL].sort());
  return out;
}

/** Each function's SNS statements (any action starting with sns:), and every statement of every role. */
function snsStatements(t: Template): { byFn: Record<string, Statement[]>; all: Statement[] } {
  const policies = Object.values(t.findResources("AWS::IAM::Policy")) as Array<{ Properties: { Roles: unknown; PolicyDocument: { Statement: Statement[] } } }>;
  const byFn: Record<string, Statement[]> = {};
  for (const [name, fn] of Object.entries(functionsOf(t))) {
    const role = JSON.stringify([{ Ref: fn.Properties.Role["Fn::GetAtt"][0] }]);
    byFn[name] = policies
      .filter((p) => JSON.stringify(p.Properties.Roles) === role)
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .filter((s) => list(s.Action).some((a) => a.startsWith("sns:")));
  }
  return { byFn, all: policies.flatMap((p) => p.Properties.PolicyDocument.Statement) };
}

describe("sns:Publish", () => {
  it("the functions that end jobs publish to exactly the configured topics; webhook and backfill cannot; no wildcard", () => {
    const { byFn, all } = snsStatements(synth(withSns));
    for (const name of ALL) {
      const want = ENDERS.includes(name) ? [{ Effect: "Allow", Action: "sns:Publish", Resource: [FAILURES, AUDIT] }] : [];
      assert.deepEqual(byFn[name], want, name);
    }
    const snsAnywhere = all.filter((s) => list(s.Action).some((a) => a.startsWith("sns:")));
    for (const s of snsAnywhere) {
      assert.ok(
        list(s.Action).every((a) => a === "sns:Publish"),
        JSON.stringify(s),
      );
      assert.ok(
        list(s.Resource).every((r) => typeof r !== "string" || !r.includes("*")),
        JSON.stringify(s),
      );
    }
  });

  it("a config without SNS entries: no function may publish", () => {
    const { byFn } = snsStatements(synth(`${exampleText}\nnotifications: [{ url: "https://hooks.example.com/ferry" }]\n`));
    for (const name of ALL) assert.deepEqual(byFn[name], [], name);
  });
});

describe("the SNS client in the bundles", () => {
  let outdir = "";
  let fns: Record<string, Fn> = {};
  before(async () => {
    outdir = await mkdtemp(join(tmpdir(), "ferry-sns-bundles-"));
    fns = functionsOf(synth(withSns, { outdir, bundle: true }));
  });
  after(async () => {
    if (outdir) await rm(outdir, { recursive: true, force: true });
  });

  it("only in the functions that end jobs", { timeout: 300_000 }, () => {
    const sizes: string[] = [];
    for (const name of ALL) {
      const code = readFileSync(join(outdir, fns[name]?.Metadata?.["aws:asset:path"] ?? "missing", "index.mjs"), "utf8");
      sizes.push(`${name} ${code.length}`);
      // The service's own name, in the client's configuration and command builder.
      assert.equal(code.includes("AmazonSimpleNotificationService"), ENDERS.includes(name), `${name}: ${sizes.join(", ")}`);
    }
  });
});
