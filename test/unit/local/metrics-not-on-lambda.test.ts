/**
 * prom-client is for `ferry serve` only: no Lambda function's bundle reaches it or lib/local's
 * metrics files (on AWS the same events go to CloudWatch through Powertools). esbuild resolves each
 * entry's imports as the construct's bundling does; packages stay external here, so the check is
 * quick and reads which packages a bundle would pull in.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { it } from "node:test";
import { build } from "esbuild";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const LAMBDAS = ["api", "webhook", "plan", "copy", "merge", "backfill", "reconcile"];

it("no Lambda bundle carries prom-client or lib/local/metrics*", async () => {
  for (const name of LAMBDAS) {
    const r = await build({
      entryPoints: [`${ROOT}functions/${name}.ts`],
      absWorkingDir: ROOT,
      bundle: true,
      packages: "external",
      platform: "node",
      format: "esm",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    const inputs = Object.keys(r.metafile.inputs);
    assert.ok(inputs.includes(`functions/${name}.ts`), `${name}: the graph was read (${inputs.length} inputs)`);
    assert.ok(inputs.includes("lib/pipeline/job-metrics.ts"), `${name}: jobs' ends are counted through the sink`);
    assert.deepEqual(
      inputs.filter((i) => i.startsWith("lib/local/metrics")),
      [],
      name,
    );
    const packages = Object.values(r.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path));
    assert.ok(packages.includes("@aws-lambda-powertools/metrics"), `${name}: CloudWatch through Powertools`);
    assert.ok(!packages.some((p) => p.startsWith("prom-client")), `${name}: ${packages.join(", ")}`);
  }
});
