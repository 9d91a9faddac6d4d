/** `npx cdk synth` with the pinned CLI, offline (no Docker, no AWS credentials), as a user runs it. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { it } from "node:test";
import { parseConfigText } from "../../lib/config.ts";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));

type Resource = { Type: string; Metadata?: Record<string, string>; Properties?: { Environment?: { Variables?: Record<string, unknown> } } };

it("cdk synth runs offline and writes the template and seven bundles, each with the example config", { timeout: 180_000 }, async () => {
  const out = await mkdtemp(join(root, ".cdk-test-"));
  try {
    // The example config (no ferry.yml here), whatever FERRY_CONFIG_FILE the caller has.
    const env: NodeJS.ProcessEnv = { ...process.env, AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "", AWS_PROFILE: "", CDK_DISABLE_VERSION_CHECK: "1" };
    delete env.FERRY_CONFIG_FILE;
    await run(process.execPath, [join(root, "node_modules/aws-cdk/bin/cdk"), "synth", "--quiet", "--no-notices", "-o", out], {
      cwd: root,
      env,
      maxBuffer: 16 * 1024 * 1024,
    });
    const files = await readdir(out);
    assert.ok(files.includes("Ferry.template.json"));
    assert.equal(files.filter((f) => f.startsWith("asset.")).length, 7);
    const template = JSON.parse(await readFile(join(out, "Ferry.template.json"), "utf8")) as { Resources: Record<string, Resource> };
    const fns = Object.values(template.Resources).filter((r) => r.Type === "AWS::Lambda::Function" && r.Metadata?.["aws:asset:path"]);
    assert.equal(fns.length, 7);
    const want = parseConfigText(await readFile(join(root, "infra/example.ferry.yml"), "utf8"));
    for (const fn of fns) {
      const vars = fn.Properties?.Environment?.Variables ?? {};
      assert.equal(vars.FERRY_CONFIG, undefined, "the config is not an environment variable");
      const file = join(out, fn.Metadata?.["aws:asset:path"] ?? "", String(vars.FERRY_CONFIG_FILE));
      assert.deepEqual(parseConfigText(await readFile(file, "utf8")), want, file);
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
