/**
 * How the config reaches the Lambda functions, at any size: a file in every bundle (not an
 * environment variable, which Lambda caps at 4 KB for all of a function's variables together),
 * loaded by the bundled handler itself; and what `cdk synth` refuses: inline secrets, secrets
 * named by environment variable that no function would have, an environment over Lambda's cap.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { Logger } from "@aws-lambda-powertools/logger";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { CONFIG_FILE_NAME, serializeConfig } from "../../infra/config-asset.ts";
import { UndeployableConfigError } from "../../infra/secrets-check.ts";
import { FerryStack } from "../../infra/stack.ts";
import { createRuntime } from "../../functions/runtime.ts";
import { loadConfigFile, parseConfigText } from "../../lib/config.ts";
import { FerryError } from "../../lib/errors.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const exampleText = readFileSync(join(root, "infra/example.ferry.yml"), "utf8");
const LIMIT = 4096;
const arn = (name: string) => `arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/${name}-AbCdEf`;

type Fn = { Properties: { Handler?: string; Environment?: { Variables?: Record<string, unknown> }; Role?: unknown }; Metadata?: Record<string, string> };

function synth(text: string, opts: { secretEnv?: Record<string, string>; outdir?: string; bundle?: boolean } = {}) {
  const app = new App({
    ...(opts.outdir ? { outdir: opts.outdir } : {}),
    context: opts.bundle ? { "aws:cdk:enable-asset-metadata": true } : { "aws:cdk:bundling-stacks": [] },
  });
  const stack = new FerryStack(app, "FerryDelivery", {
    config: parseConfigText(text),
    ...(opts.secretEnv ? { secretEnv: opts.secretEnv } : {}),
    env: { account: "123456789012", region: "us-east-1" },
  });
  return { app, stack };
}

/** The seven functions by name (api, webhook, …), from a template. */
function functionsOf(t: Template): Record<string, Fn> {
  const out: Record<string, Fn> = {};
  for (const [key, r] of Object.entries(t.findResources("AWS::Lambda::Function")) as Array<[string, Fn]>) {
    const m = /(Api|Webhook|Plan|Copy|Merge|Backfill|Reconcile)Function/.exec(key);
    if (m?.[1] && r.Properties.Handler === "index.handler") out[m[1].toLowerCase()] = r;
  }
  assert.equal(Object.keys(out).length, 7);
  return out;
}

const varsOf = (f: Fn | undefined) => f?.Properties.Environment?.Variables ?? {};

/**
 * What Lambda counts for a function's variables: keys and values. A value CloudFormation fills in
 * (a table name, a queue URL) is counted as 256 bytes, more than any of ferry's can take.
 */
function envBytes(vars: Record<string, unknown>): number {
  const size = (v: unknown): number => {
    if (typeof v === "string") return Buffer.byteLength(v);
    const join = (v as { "Fn::Join"?: [string, unknown[]] })?.["Fn::Join"];
    if (join) return join[1].reduce<number>((n, p) => n + size(p), 0) + join[0].length * (join[1].length - 1);
    return 256;
  };
  return Object.entries(vars).reduce((n, [k, v]) => n + k.length + size(v), 0);
}

/** A config of about 20 KB: registries, webhooks (by secretEnv, and GAR's OIDC), rules, comments everywhere. */
function bigConfig(): { text: string; secretEnv: Record<string, string> } {
  const lines = ["# A generated config: many registries, webhooks and rules (comment-marker-top).", "version: 1", "registries:"];
  for (let i = 0; i < 25; i++) {
    lines.push(`  # registry ${i}: a mirror the team reads from (comment-marker-registry-${i})`, `  - host: registry-${i}.example.com`);
    if (i % 3 === 0) lines.push(`    secretArn: ${arn(`registry-${i}`)}`);
    else lines.push(`    requestsPerSecond: ${5 + i}`, "    uploadMode: chunked");
  }
  lines.push("webhooks:");
  const secretEnv: Record<string, string> = {};
  ["distribution", "github", "harbor", "gitea", "nexus", "artifactory", "quay", "dockerhub"].forEach((provider, i) => {
    secretEnv[`FERRY_HOOK_${i}_SECRET`] = arn(`hook-${i}`);
    lines.push(`  # ${provider} sender ${i}: its secret comes from Secrets Manager (comment-marker-hook-${i})`);
    lines.push(`  - provider: ${provider}`, `    id: hook-${i}`, `    registry: registry-${i}.example.com`, `    secretEnv: FERRY_HOOK_${i}_SECRET`);
  });
  for (let i = 0; i < 8; i++) {
    lines.push(`  # a Pub/Sub push subscription, verified by its OIDC token (comment-marker-gar-${i})`);
    lines.push(`  - provider: gar`, `    id: gar-${i}`, `    audience: https://ferry.example.com/webhooks/gar/gar-${i}`);
    lines.push(`    serviceAccount: pubsub-${i}@project-${i}.iam.gserviceaccount.com`);
    lines.push(`    jwks: { keys: [{ kid: "key-${i}", kty: "RSA", alg: "RS256", e: "AQAB", n: "${"x".repeat(64)}" }] }`);
  }
  lines.push("rules:");
  for (let i = 0; lines.join("\n").length < 20 * 1024; i++) {
    lines.push(`  # rule ${i}: team ${i % 7}'s images, to two mirrors (comment-marker-rule-${i})`);
    lines.push(`  - name: rule-${i}`, `    source: registry-${i % 25}.example.com/team-${i}/**`);
    lines.push(`    destinations: ["mirror-a.example.com/team-${i}/{repo}", "mirror-b.example.com/copies/team-${i}/{repo}"]`);
    lines.push("    platforms: [linux/amd64, linux/arm64]", `    tags: { exclude: ["-rc\\\\d*$"], semver: ">=${i % 4}.0.0" }`);
    if (i % 10 === 0) lines.push(`    backfill: { schedule: rate(${1 + (i % 12)} hours) }`);
    if (i % 7 === 0) lines.push(`    verify: { cosign: { publicKeys: [{ secretArn: "${arn(`cosign-${i}`)}" }] } }`);
  }
  lines.push("pipeline: { maxReceiveCount: 6 }", "");
  return { text: lines.join("\n"), secretEnv };
}

describe("a 20 KB config reaches every function as a file in its bundle", () => {
  const { text, secretEnv } = bigConfig();
  let outdir = "";
  let fns: Record<string, Fn> = {};

  before(async () => {
    // Outside the checkout: a bundle that imported anything from node_modules would fail to load here.
    outdir = await mkdtemp(join(tmpdir(), "ferry-config-delivery-"));
    const { app, stack } = synth(text, { secretEnv, outdir, bundle: true });
    const template = app.synth().getStackArtifact(stack.artifactId).template as object;
    fns = functionsOf(Template.fromJSON(template as Record<string, unknown>));
  });
  after(async () => {
    if (outdir) await rm(outdir, { recursive: true, force: true });
  });

  it("the config is over 20 KB, far beyond what an environment variable could hold", () => {
    assert.ok(text.length >= 20 * 1024, `${text.length} bytes`);
    assert.ok(serializeConfig(parseConfigText(text)).length > 4 * LIMIT);
  });

  it("no function's environment comes near Lambda's 4 KB, and none carries the config", () => {
    for (const [name, f] of Object.entries(fns)) {
      const vars = varsOf(f);
      assert.equal(vars.FERRY_CONFIG, undefined, name);
      assert.equal(vars.FERRY_CONFIG_FILE, CONFIG_FILE_NAME, name);
      const bytes = envBytes(vars);
      assert.ok(bytes < LIMIT, `${name}: ${bytes} bytes of environment`);
    }
  });

  it("every bundle carries the config as validated, without the YAML's comments", async () => {
    const want = parseConfigText(text);
    for (const [name, f] of Object.entries(fns)) {
      const dir = join(outdir, f.Metadata?.["aws:asset:path"] ?? "missing");
      const file = join(dir, String(varsOf(f).FERRY_CONFIG_FILE));
      assert.ok(existsSync(file), `${name}: ${file}`);
      assert.ok(!readFileSync(file, "utf8").includes("comment-marker"), `${name}: a comment reached the bundle`);
      assert.deepEqual(await loadConfigFile(file), want, name);
    }
  });

  it("only the webhook function gets the webhook secrets named by secretEnv (their ARNs, never their values)", () => {
    for (const [name, f] of Object.entries(fns)) {
      const wired = varsOf(f).FERRY_SECRET_ENV;
      if (name !== "webhook") {
        assert.equal(wired, undefined, name);
        continue;
      }
      assert.deepEqual(JSON.parse(String(wired)), secretEnv);
    }
  });

  it("the bundled copy handler, run as Lambda runs it (FERRY_CONFIG_FILE from the template, LAMBDA_TASK_ROOT its bundle), loads the config and copies", {
    timeout: 120_000,
  }, async () => {
    const copy = fns.copy;
    const dir = join(outdir, copy?.Metadata?.["aws:asset:path"] ?? "missing");
    const saved = { FERRY_CONFIG_FILE: process.env.FERRY_CONFIG_FILE, LAMBDA_TASK_ROOT: process.env.LAMBDA_TASK_ROOT };
    Object.assign(process.env, { FERRY_CONFIG_FILE: String(varsOf(copy).FERRY_CONFIG_FILE), LAMBDA_TASK_ROOT: dir });
    try {
      const { runBundledCopy } = await import("../helpers/bundled-copy.ts");
      await runBundledCopy(join(dir, "index.mjs"));
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

describe("the shipped file", () => {
  it("does not change with comments, formatting or key order, and parses back to the same config", () => {
    const a = "version: 1\n# a comment\nwebhooks:\n  - { provider: github, id: gh, secretArn: x }  # trailing\nrules: []\n";
    const b = "rules: []\nwebhooks:\n  - secretArn: x\n    id: gh\n    provider: github\nversion: 1\n";
    const ca = parseConfigText(a);
    assert.equal(serializeConfig(ca), serializeConfig(parseConfigText(b)));
    assert.deepEqual(parseConfigText(serializeConfig(ca)), ca);
    assert.notEqual(serializeConfig(ca), serializeConfig(parseConfigText(a.replace("id: gh", "id: gh2"))));
  });
});

/** The error synth raises for `text`; fails when synth accepts it. */
function refusal(text: string, secretEnv?: Record<string, string>): UndeployableConfigError {
  try {
    synth(text, secretEnv ? { secretEnv } : {});
  } catch (e) {
    if (e instanceof UndeployableConfigError) return e;
    throw e;
  }
  assert.fail("synth accepted the config");
}

const withGithubSecretEnv = exampleText.replace(/secretArn: \S+github-webhook\S+/, "secretEnv: FERRY_GITHUB_SECRET");

describe("synth refuses a config it cannot deploy safely", () => {
  it("the example config synthesizes; its functions read the config from their bundle", () => {
    const fns = functionsOf(Template.fromStack(synth(exampleText).stack));
    for (const f of Object.values(fns)) assert.equal(varsOf(f).FERRY_CONFIG_FILE, CONFIG_FILE_NAME);
  });

  it("inline secrets, each with its field path and where the secret belongs instead", () => {
    const text = `version: 1
registries:
  - { host: a.example.com, username: bot, password: hunter2 }
  - { host: b.example.com, secretArn: "${arn("b")}" }
webhooks:
  - { provider: github, id: gh, secretArn: "${arn("gh")}" }
  - { provider: distribution, id: d, secret: s3cret }
api: { token: t0ken }
`;
    const e = refusal(text);
    assert.equal(e.code, "INVALID_CONFIG");
    assert.deepEqual(
      e.issues.map((i) => i.field),
      ["webhooks[1].secret", "registries[0].password", "api.token"],
    );
    assert.equal(e.field, "webhooks[1].secret");
    for (const field of ["webhooks[1].secret", "registries[0].password"]) {
      const line = e.message.split("\n").find((l) => l.includes(`${field}:`));
      assert.ok(line?.includes("secretArn") && /secretEnv|passwordEnv/.test(line), line);
    }
    assert.ok(!e.message.includes("hunter2") && !e.message.includes("s3cret"), "the refusal never prints a secret");
  });

  it("secret files of the synthesizing machine, and an API token by environment variable (IAM guards /replications)", () => {
    const text = `version: 1
registries:
  - { host: a.example.com, username: bot, passwordFile: /run/secrets/a }
  - { host: b.example.com, dockerConfig: /home/me/.docker/config.json }
api: { tokenEnv: FERRY_API_TOKEN }
`;
    assert.deepEqual(
      refusal(text).issues.map((i) => i.field),
      ["registries[0].passwordFile", "registries[1].dockerConfig", "api.tokenEnv"],
    );
  });

  it("a secretEnv no function would have (the webhook would answer 401 forever)", () => {
    const e = refusal(withGithubSecretEnv);
    assert.deepEqual(
      e.issues.map((i) => i.field),
      ["webhooks[1].secretEnv"],
    );
    assert.ok(e.message.includes("FERRY_GITHUB_SECRET") && e.message.includes("secretArn"));
  });

  it("…and wires it when given its secret: the webhook function alone gets its ARN and may read it", () => {
    const t = Template.fromStack(synth(withGithubSecretEnv, { secretEnv: { FERRY_GITHUB_SECRET: arn("github") } }).stack);
    const fns = functionsOf(t);
    assert.deepEqual(JSON.parse(String(varsOf(fns.webhook).FERRY_SECRET_ENV)), { FERRY_GITHUB_SECRET: arn("github") });
    for (const name of ["api", "plan", "copy", "merge", "backfill", "reconcile"]) assert.equal(varsOf(fns[name]).FERRY_SECRET_ENV, undefined, name);
    const readers = Object.values(t.findResources("AWS::IAM::Policy"))
      .filter((p) => JSON.stringify(p.Properties.PolicyDocument).includes(arn("github")))
      .map((p) => JSON.stringify(p.Properties.Roles));
    const roleOf = (f: Fn | undefined) => {
      assert.ok(f);
      return (f.Properties.Role as { "Fn::GetAtt": [string] })["Fn::GetAtt"][0];
    };
    assert.equal(readers.length, 1);
    assert.ok(readers[0]?.includes(roleOf(fns.webhook)));
  });

  it("registry credentials by environment variable go to the functions that talk to registries; a key's {env} to plan", () => {
    const text = exampleText
      .replace("registries:\n", "registries:\n  - { host: hub.example.com, usernameEnv: HUB_USER, passwordEnv: HUB_TOKEN }\n")
      .replace(
        "rules:\n",
        `rules:\n  - { name: gated, source: hub.example.com/signed/*, destinations: ["m.example.com/signed/{name}"], verify: { cosign: { publicKeys: [{ env: GATE_KEY }] } } }\n`,
      );
    assert.deepEqual(
      refusal(text).issues.map((i) => i.field),
      ["registries[0].usernameEnv", "registries[0].passwordEnv", "rules[0].verify.cosign.publicKeys[0].env"],
    );
    const secretEnv = { HUB_USER: arn("hub-user"), HUB_TOKEN: arn("hub-token"), GATE_KEY: arn("gate") };
    const fns = functionsOf(Template.fromStack(synth(text, { secretEnv }).stack));
    const wired = (name: string) => Object.keys(JSON.parse(String(varsOf(fns[name]).FERRY_SECRET_ENV ?? "{}")));
    assert.deepEqual(wired("plan"), ["GATE_KEY", "HUB_TOKEN", "HUB_USER"]);
    for (const name of ["copy", "merge", "backfill"]) assert.deepEqual(wired(name), ["HUB_TOKEN", "HUB_USER"], name);
    for (const name of ["api", "webhook", "reconcile"]) assert.deepEqual(wired(name), [], name);
  });

  it("a secret wired for a name the config never uses (a typo), and an ARN that is not a complete secret ARN", () => {
    assert.deepEqual(
      refusal(exampleText, { FERRY_GITHUB_SECRETS: arn("github") }).issues.map((i) => i.field),
      ["secretEnv.FERRY_GITHUB_SECRETS"],
    );
    assert.throws(
      () => synth(withGithubSecretEnv, { secretEnv: { FERRY_GITHUB_SECRET: "ferry/github" } }),
      (e: unknown) => e instanceof FerryError && e.code === "INVALID_CONFIG" && e.field === "secretEnv.FERRY_GITHUB_SECRET",
    );
  });

  it("an environment over Lambda's 4 KB fails synthesis, naming the function", () => {
    const names = Array.from({ length: 30 }, (_, i) => `REGISTRY_${i}_PASSWORD`);
    const text = `version: 1\nregistries:\n${names.map((n, i) => `  - { host: r${i}.example.com, username: bot, passwordEnv: ${n} }`).join("\n")}\n`;
    const secretEnv = Object.fromEntries(names.map((n) => [n, arn(`a-rather-long-secret-name-for-registry-${n.toLowerCase()}`)]));
    const { app } = synth(text, { secretEnv });
    assert.throws(
      () => app.synth(),
      (e: unknown) => e instanceof Error && /CopyFunction/.test(e.message) && !/ApiFunction|WebhookFunction/.test(e.message),
    );
  });
});

describe("functions/runtime: secrets named by environment variable", () => {
  it("are read from Secrets Manager when the runtime is built, into its own environment, never process.env", async () => {
    const values: Record<string, string> = { [arn("hook")]: "hook-secret", [arn("pw")]: "registry-password" };
    const asked: string[] = [];
    // A Secrets Manager stand-in: GetSecretValue over AWS JSON 1.1.
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        const id = (JSON.parse(body) as { SecretId: string }).SecretId;
        asked.push(id);
        const v = values[id];
        res.writeHead(v ? 200 : 400, { "content-type": "application/x-amz-json-1.1" });
        res.end(JSON.stringify(v ? { ARN: id, SecretString: v } : { __type: "ResourceNotFoundException", message: "no such secret" }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      AWS_ACCESS_KEY_ID: "ferrytest",
      AWS_SECRET_ACCESS_KEY: "ferrytest",
    });
    try {
      const config = parseConfigText(
        "version: 1\nregistries: [{ host: r.example.com, username: bot, passwordEnv: REG_PW }]\nwebhooks: [{ provider: github, id: gh, secretEnv: HOOK_SECRET }]\n",
      );
      const env = { PATH: "/usr/bin" };
      const runtime = await createRuntime(
        {
          config,
          table: "t",
          queues: { plan: "q1", copy: "q2", merge: "q3" },
          region: "us-east-1",
          env,
          secretEnv: { HOOK_SECRET: arn("hook"), REG_PW: arn("pw") },
        },
        new Logger({ logLevel: "ERROR" }),
      );
      assert.deepEqual(asked.sort(), [arn("hook"), arn("pw")].sort());
      assert.equal(runtime.deps.env?.REG_PW, "registry-password");
      assert.equal(runtime.deps.env?.PATH, "/usr/bin");
      assert.equal(config.webhooks[0]?.secret, "hook-secret", "the webhook verifies with its secret");
      assert.equal(process.env.REG_PW, undefined);
      assert.equal(process.env.HOOK_SECRET, undefined);
      assert.deepEqual(env, { PATH: "/usr/bin" }, "the settings' environment is not written either");
    } finally {
      for (const k of ["AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
      await new Promise((r) => server.close(r));
    }
  });
});
