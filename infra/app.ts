/**
 * CDK app: `npx cdk synth` / `npx cdk deploy`. Reads the config from FERRY_CONFIG_FILE (default
 * ferry.yml, else infra/example.ferry.yml) — the same file `ferry serve --config` reads.
 */
import { existsSync, readFileSync } from "node:fs";
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { parseConfigText } from "../lib/config.ts";
import { FerryStack } from "./stack.ts";

const file = process.env.FERRY_CONFIG_FILE ?? (existsSync("ferry.yml") ? "ferry.yml" : "infra/example.ferry.yml");
const text = readFileSync(file, "utf8");
const app = new App();
new FerryStack(app, process.env.FERRY_STACK_NAME ?? "Ferry", { config: parseConfigText(text, file), configText: text });
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
