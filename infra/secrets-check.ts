/**
 * What a config may not take to AWS, decided when the stack is constructed (`cdk synth`), before
 * anything is deployed: an inline secret would sit in plaintext in every function's bundle (the
 * config ships there, infra/config-asset.ts) and in the repository that holds ferry.yml; a secret
 * named by environment variable that no function is given would fail every request that needs it
 * (a webhook answering 401 forever); a file on the synthesizing machine never reaches Lambda.
 */
import type { FerryConfig } from "../lib/config.ts";
import { FerryError } from "../lib/errors.ts";

/** The functions that read a secret named by environment variable (a subset of the construct's). */
export type SecretConsumer = "webhook" | "plan" | "copy" | "merge" | "backfill";

/** One config field that names an environment variable holding a secret, and who reads it. */
export interface SecretEnvUse {
  /** The field's path, as config errors name it: `webhooks[1].secretEnv`. */
  field: string;
  /** The environment variable's name. */
  name: string;
  functions: readonly SecretConsumer[];
}

export interface ConfigIssue {
  field: string;
  message: string;
}

/** A config `cdk synth` refuses: every issue with its field path (`issues`), the first one in `field`. */
export class UndeployableConfigError extends FerryError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const lines = issues.map((i) => `  ${i.field}: ${i.message}`).join("\n");
    super("INVALID_CONFIG", `the config cannot be deployed to AWS:\n${lines}`, issues[0] ? { field: issues[0].field } : {});
    this.name = "UndeployableConfigError";
    this.issues = issues;
  }
}

// Registry credentials are used where registries are read or written; webhook secrets where
// webhooks are verified; signature gate keys where the gate runs (plan).
const REGISTRY_USERS: readonly SecretConsumer[] = ["plan", "copy", "merge", "backfill"];

/** Every environment variable the config reads a secret (or a registry user name) from. */
export function secretEnvUses(config: FerryConfig): SecretEnvUse[] {
  const uses: SecretEnvUse[] = [];
  config.webhooks.forEach((w, i) => {
    if (w.secretEnv) uses.push({ field: `webhooks[${i}].secretEnv`, name: w.secretEnv, functions: ["webhook"] });
  });
  config.registries.forEach((r, i) => {
    if (r.usernameEnv) uses.push({ field: `registries[${i}].usernameEnv`, name: r.usernameEnv, functions: REGISTRY_USERS });
    if (r.passwordEnv) uses.push({ field: `registries[${i}].passwordEnv`, name: r.passwordEnv, functions: REGISTRY_USERS });
  });
  config.rules.forEach((rule, i) => {
    rule.verify?.cosign.publicKeys.forEach((k, j) => {
      if (typeof k === "object" && "env" in k) uses.push({ field: `rules[${i}].verify.cosign.publicKeys[${j}].env`, name: k.env, functions: ["plan"] });
    });
  });
  return uses;
}

const WIRE = (name: string) =>
  `give the functions ${name} from Secrets Manager (the Ferry construct's secretEnv: { ${name}: secret }, or cdk synth -c 'ferry:secretEnv={"${name}":"<secret ARN>"}')`;
const SHIPPED = "the config is shipped in every function's bundle, so an inline secret would be stored there (and in your repository) in plaintext";
const NOT_SHIPPED = "a file on the machine that runs cdk synth does not reach the functions";

/**
 * The issues that keep `config` from AWS, given the environment variables the construct wires
 * (`wired`): inline secrets, secret files, an API token, and environment variables named but not
 * wired (or wired but named nowhere). Empty when the config may be deployed.
 */
export function deployIssues(config: FerryConfig, wired: ReadonlySet<string>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  config.webhooks.forEach((w, i) => {
    if (w.secret)
      issues.push({ field: `webhooks[${i}].secret`, message: `${SHIPPED}: use secretArn (a Secrets Manager secret), or secretEnv and ${WIRE("it")}` });
  });
  config.registries.forEach((r, i) => {
    const at = `registries[${i}]`;
    if (r.password)
      issues.push({ field: `${at}.password`, message: `${SHIPPED}: use secretArn (a secret {"username","password"}), or passwordEnv and ${WIRE("it")}` });
    if (r.passwordFile) issues.push({ field: `${at}.passwordFile`, message: `${NOT_SHIPPED}: use secretArn (a secret {"username","password"})` });
    if (r.dockerConfig) issues.push({ field: `${at}.dockerConfig`, message: `${NOT_SHIPPED}: use secretArn (a secret {"username","password"})` });
  });
  // /replications is authorised at the gateway with IAM (SigV4, in the Authorization header): a
  // bearer token, which the function would then demand in that same header, refuses every request.
  const iamOnly =
    "on AWS the gateway authorises /replications with IAM (SigV4), and a bearer token (for ferry serve) would refuse every signed request: leave it out of the config you deploy";
  if (config.api.token) issues.push({ field: "api.token", message: `${SHIPPED}; besides, ${iamOnly}` });
  if (config.api.tokenEnv) issues.push({ field: "api.tokenEnv", message: iamOnly });
  const uses = secretEnvUses(config);
  for (const u of uses) {
    if (wired.has(u.name)) continue;
    const instead = u.field.startsWith("rules[") ? "or use { secretArn }" : "or use secretArn";
    issues.push({ field: u.field, message: `no function would have ${u.name} (it would fail every request that needs it): ${WIRE(u.name)}, ${instead}` });
  }
  const named = new Set(uses.map((u) => u.name));
  for (const name of wired) {
    if (!named.has(name))
      issues.push({ field: `secretEnv.${name}`, message: `the config names no ${name} (in secretEnv, usernameEnv, passwordEnv or a key's { env })` });
  }
  return issues;
}

/** Throws {@link UndeployableConfigError} listing every issue when `config` may not be deployed. */
export function assertDeployable(config: FerryConfig, wired: ReadonlySet<string>): void {
  const issues = deployIssues(config, wired);
  if (issues.length > 0) throw new UndeployableConfigError(issues);
}
