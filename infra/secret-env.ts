/**
 * Secrets the config names by environment variable (`secretEnv`, `usernameEnv`, `passwordEnv`, a
 * key's `{ env }`), given to the functions from Secrets Manager. The value is never put in the
 * function's environment (the console and GetFunctionConfiguration show that in plaintext): the
 * function gets `FERRY_SECRET_ENV`, `{"NAME": "<secret ARN>"}`, and reads each secret once at cold
 * start (functions/runtime.ts), into its own view of the environment. Each function gets only the
 * names its work needs (infra/secrets-check.ts), and may read only those secrets.
 */
import { Stack } from "aws-cdk-lib";
import type { Function as LambdaFunction } from "aws-cdk-lib/aws-lambda";
import type { ISecret } from "aws-cdk-lib/aws-secretsmanager";
import type { SecretEnvUse } from "./secrets-check.ts";

/** The environment variable that carries a function's `{"NAME": "<secret ARN>"}`. */
export const SECRET_ENV_VARIABLE = "FERRY_SECRET_ENV";

/** Gives `fn` (the construct's function `fnName`) the secrets its share of `uses` names, and the right to read them. */
export function wireSecretEnv(fn: LambdaFunction, fnName: string, uses: readonly SecretEnvUse[], secrets: Readonly<Record<string, ISecret>>): void {
  const names = [...new Set(uses.filter((u) => (u.functions as readonly string[]).includes(fnName)).map((u) => u.name))].sort();
  const arns: Record<string, string> = {};
  for (const name of names) {
    const secret = secrets[name];
    if (!secret) continue; // refused before any function is built (assertDeployable)
    arns[name] = secret.secretArn;
    secret.grantRead(fn);
  }
  if (names.length > 0) fn.addEnvironment(SECRET_ENV_VARIABLE, Stack.of(fn).toJsonString(arns));
}
