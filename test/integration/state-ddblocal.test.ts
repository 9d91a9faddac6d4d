/**
 * Runs the job-store suite against DynamoDB Local (full DynamoDB semantics). DynamoDB Local has
 * no bind-address option and listens on every interface, so the suite runs in a fresh network
 * namespace (`unshare -n`) whose only interface is loopback: nothing outside can reach it.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { it } from "node:test";

const suite = fileURLToPath(new URL("./state-ddblocal.suite.ts", import.meta.url));

it("job store suite on DynamoDB Local, in a loopback-only network namespace", { timeout: 180_000 }, async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip("creating a network namespace needs root (CI runs as root); DynamoDB Local cannot bind to loopback only");
    return;
  }
  const child = spawn(
    "unshare",
    ["-n", "sh", "-c", `ip link set lo up && exec "${process.execPath}" --import tsx --test --test-reporter=tap "${suite}"`],
    // Without NODE_TEST_CONTEXT the inner runner reports in text, not the outer runner's child protocol.
    { stdio: ["ignore", "pipe", "pipe"], env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "NODE_TEST_CONTEXT")) },
  );
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const code = await new Promise<number | null>((r) => child.on("exit", r));
  const passed = /# pass (\d+)/.exec(out)?.[1];
  const failed = /# fail (\d+)/.exec(out)?.[1];
  t.diagnostic(`DynamoDB Local: ${passed ?? "?"} passed, ${failed ?? "?"} failed`);
  assert.equal(code, 0, out.slice(-4000));
  assert.ok(Number(passed) >= 8, `expected the whole suite to run, got ${passed}:\n${out.slice(-2000)}`);
  assert.equal(failed, "0");
});
