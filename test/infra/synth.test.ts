/** `npx cdk synth` with the pinned CLI, offline (no Docker, no AWS credentials), as a user runs it. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { it } from "node:test";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));

it("cdk synth runs offline and writes the template and seven bundles", { timeout: 180_000 }, async () => {
  const out = await mkdtemp(join(root, ".cdk-test-"));
  try {
    const env = { ...process.env, AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "", AWS_PROFILE: "", CDK_DISABLE_VERSION_CHECK: "1" };
    await run(process.execPath, [join(root, "node_modules/aws-cdk/bin/cdk"), "synth", "--quiet", "--no-notices", "-o", out], {
      cwd: root,
      env,
      maxBuffer: 16 * 1024 * 1024,
    });
    const files = await readdir(out);
    assert.ok(files.includes("Ferry.template.json"));
    assert.equal(files.filter((f) => f.startsWith("asset.")).length, 7);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
