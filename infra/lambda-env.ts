/**
 * Lambda's 4 KB cap on a function's environment variables (keys and values together): exceeded,
 * the template synthesizes and CloudFormation then fails the deployment. Checked at synth instead.
 */
import type { CfnFunction, Function as LambdaFunction } from "aws-cdk-lib/aws-lambda";
import { Stack } from "aws-cdk-lib";

/** https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html */
export const LAMBDA_ENVIRONMENT_LIMIT = 4096;

/**
 * Bytes a value resolved by CloudFormation may take: a table name is up to 255 characters, a queue
 * URL about 130, a secret ARN about 100 plus its name. An upper bound for ferry's references.
 */
export const TOKEN_ESTIMATE = 256;

/** A template value's size once deployed: strings exactly, `Fn::Join` by its parts, any other intrinsic (Ref, GetAtt) as {@link TOKEN_ESTIMATE}. */
export function valueBytes(v: unknown): number {
  if (typeof v === "string") return Buffer.byteLength(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v).length;
  if (v && typeof v === "object" && "Fn::Join" in v) {
    const [sep, parts] = (v as { "Fn::Join": [string, unknown[]] })["Fn::Join"];
    return parts.reduce<number>((n, p) => n + valueBytes(p), 0) + Buffer.byteLength(sep) * Math.max(0, parts.length - 1);
  }
  return TOKEN_ESTIMATE;
}

/** The size Lambda counts for a set of variables (as they stand in a template). */
export function environmentBytes(vars: Record<string, unknown>): number {
  return Object.entries(vars).reduce((n, [k, v]) => n + Buffer.byteLength(k) + valueBytes(v), 0);
}

/** Fails synthesis when the function's finished environment may exceed Lambda's cap. */
export function checkEnvironmentSize(fn: LambdaFunction): void {
  fn.node.addValidation({
    validate: () => {
      const cfn = fn.node.defaultChild as CfnFunction;
      const env = Stack.of(fn).resolve(cfn.environment) as { variables?: Record<string, unknown> } | undefined;
      const bytes = environmentBytes(env?.variables ?? {});
      return bytes > LAMBDA_ENVIRONMENT_LIMIT
        ? [
            `${fn.node.path}: its environment variables may take ${bytes} bytes, over Lambda's ${LAMBDA_ENVIRONMENT_LIMIT}: ` +
              "wire fewer secrets by environment variable (secretEnv); name them with secretArn in the config instead",
          ]
        : [];
    },
  });
}
