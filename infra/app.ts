/**
 * CDK app: `npx cdk synth` / `npx cdk deploy`. Reads the config from FERRY_CONFIG_FILE (default
 * ferry.yml, else infra/example.ferry.yml) — the same file `ferry serve --config` reads. The
 * secrets behind its `secretEnv`/`passwordEnv`/… names come from the context `ferry:secretEnv`, a
 * JSON object of complete secret ARNs by name (`-c 'ferry:secretEnv={"NAME":"arn:…"}'`, or cdk.json).
 */
import { existsSync, readFileSync } from "node:fs";
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { parseConfigText } from "../lib/config.ts";
import { FerryError } from "../lib/errors.ts";
import { FerryStack } from "./stack.ts";

const file = process.env.FERRY_CONFIG_FILE ?? (existsSync("ferry.yml") ? "ferry.yml" : "infra/example.ferry.yml");
const text = readFileSync(file, "utf8");
const app = new App();
new FerryStack(app, process.env.FERRY_STACK_NAME ?? "Ferry", {
  config: parseConfigText(text, file),
  secretEnv: secretEnvContext(app.node.tryGetContext("ferry:secretEnv")),
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();

/** The `ferry:secretEnv` context: an object from cdk.json, or its JSON text from `-c`. */
function secretEnvContext(v: unknown): Record<string, string> {
  if (v === undefined) return {};
  let obj: unknown = v;
  if (typeof v === "string") {
    try {
      obj = JSON.parse(v);
    } catch {
      obj = undefined;
    }
  }
  if (!obj || typeof obj !== "object" || Array.isArray(obj) || !Object.values(obj).every((a) => typeof a === "string")) {
    throw new FerryError("INVALID_CONFIG", 'context ferry:secretEnv: want a JSON object of secret ARNs by name, e.g. {"NAME":"arn:aws:secretsmanager:…"}');
  }
  return obj as Record<string, string>;
}
