/**
 * How the config reaches the Lambda functions: as a file in each function's bundle, next to
 * index.mjs, read at cold start from `FERRY_CONFIG_FILE` (relative to `LAMBDA_TASK_ROOT`).
 *
 * Why a file in the bundle, and not an environment variable, SSM Parameter Store or S3:
 * - size: Lambda caps a function's environment variables together at 4 KB, SSM parameters at
 *   4 KB (standard) or 8 KB (advanced); a deployment package may hold 250 MB unzipped.
 * - deploys with the code: the bundle's asset hash covers the file, so a changed config is a new
 *   code version of every function, rolled out and rolled back with its code by CloudFormation
 *   (an environment variable did the same); a function's config cannot drift from its code.
 * - cold start: one local read of a few KB, no network call; no IAM grant, no bucket or
 *   parameter to create, secure or clean up.
 * - secrets are never in it: infra/secrets-check.ts refuses inline secrets at synth; the file
 *   holds only what a template may (ARNs, environment variable names, rules).
 *
 * The file is the validated config serialized as JSON (JSON is YAML, so the loader is unchanged):
 * the YAML's comments, formatting and key order never reach the bundle, so editing a comment
 * changes no asset hash (no redeploy), and a commented-out secret cannot be shipped.
 */
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { platform } from "node:os";
import { join } from "node:path";
import { Stage } from "aws-cdk-lib";
import type { ICommandHooks } from "aws-cdk-lib/aws-lambda-nodejs";
import type { Construct } from "constructs";
import type { FerryConfig } from "../lib/config.ts";

/** The file's name in each bundle, and the value of `FERRY_CONFIG_FILE` (resolved against `LAMBDA_TASK_ROOT`). */
export const CONFIG_FILE_NAME = "ferry.json";

/** The bytes shipped: the validated config as JSON, in the schema's key order. */
export function serializeConfig(config: FerryConfig): string {
  return `${JSON.stringify(config, null, 2)}\n`;
}

const quote = (p: string) => (platform() === "win32" ? `"${p}"` : `'${p.replaceAll("'", `'\\''`)}'`);

/**
 * Writes the serialized config into the cloud assembly directory (once per content) and returns
 * the esbuild command hooks that copy it into a bundle as {@link CONFIG_FILE_NAME}. Local
 * bundling only (the hooks run on this machine; ferry never bundles in Docker).
 */
export function configBundlingHooks(scope: Construct, config: FerryConfig): ICommandHooks {
  const text = serializeConfig(config);
  const hash = createHash("sha256").update(text).digest("hex").slice(0, 16);
  const outdir = Stage.of(scope)?.outdir;
  if (!outdir) throw new Error("the Ferry construct must be inside a CDK App or Stage");
  const staged = join(outdir, `ferry-config.${hash}.json`);
  writeFileSync(staged, text);
  const copy = platform() === "win32" ? "copy /y" : "cp";
  return {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (_inputDir, outputDir) => [`${copy} ${quote(staged)} ${quote(join(outputDir, CONFIG_FILE_NAME))}`],
  };
}
