/** The default stack: one `Ferry` configured from the same YAML file `ferry serve` reads. */
import { CfnOutput, Stack, type StackProps, Validations } from "aws-cdk-lib";
import { type ISecret, Secret } from "aws-cdk-lib/aws-secretsmanager";
import type { Construct } from "constructs";
import type { FerryConfig } from "../lib/config.ts";
import { FerryError } from "../lib/errors.ts";
import { Ferry } from "./ferry.ts";

export interface FerryStackProps extends StackProps {
  config: FerryConfig;
  /** @deprecated Unused: the functions get `config` itself, serialized without comments (infra/config-asset.ts). */
  configText?: string;
  /**
   * The Secrets Manager secret (complete ARN) behind each environment variable the config names
   * (`secretEnv`, `usernameEnv`, `passwordEnv`, a key's `{ env }`). `cdk synth -c 'ferry:secretEnv={"NAME":"arn:…"}'`.
   */
  secretEnv?: Record<string, string>;
}

// A complete secret ARN ends in the six characters Secrets Manager appends to the name.
const COMPLETE_SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/;

export class FerryStack extends Stack {
  readonly ferry: Ferry;

  constructor(scope: Construct, id: string, props: FerryStackProps) {
    super(scope, id, props);
    const secretEnv: Record<string, ISecret> = {};
    for (const [name, arn] of Object.entries(props.secretEnv ?? {})) {
      if (!COMPLETE_SECRET_ARN.test(arn)) {
        throw new FerryError("INVALID_CONFIG", `secretEnv.${name}: want a complete Secrets Manager ARN (…:secret:NAME-AbCdEf), got ${JSON.stringify(arn)}`, {
          field: `secretEnv.${name}`,
        });
      }
      secretEnv[name] = Secret.fromSecretCompleteArn(this, `SecretEnv${name}`, arn);
    }
    this.ferry = new Ferry(this, "Ferry", { config: props.config, secretEnv });
    const url = this.ferry.api.apiEndpoint;
    new CfnOutput(this, "ApiUrl", { value: url, description: "POST /replications, GET /replications/{id} (IAM-signed)" });
    for (const w of props.config.webhooks) {
      const token = w.provider === "dockerhub" || w.provider === "quay" ? "?token=<secret>" : "";
      new CfnOutput(this, `Webhook${w.provider}${w.id}`.replace(/[^A-Za-z0-9]/g, ""), {
        value: `${url}/webhooks/${w.provider}/${w.id}${token}`,
        description: `Webhook URL to configure in the ${w.provider} sender "${w.id}"`,
      });
    }
    new CfnOutput(this, "Dashboard", { value: this.ferry.dashboard.dashboardName });
    new CfnOutput(this, "AlarmTopicArn", { value: this.ferry.alarmTopic.topicArn, description: "Every ferry alarm notifies this SNS topic: subscribe to it" });
    // `aws sqs start-message-move-task --source-arn <DLQ ARN>` moves a DLQ's messages back to their queue.
    for (const [stage, dlq] of Object.entries(this.ferry.deadLetterQueues)) {
      new CfnOutput(this, `${stage[0]?.toUpperCase()}${stage.slice(1)}DlqArn`, {
        value: dlq.queueArn,
        description: `The ${stage} queue's dead-letter queue (redrive source)`,
      });
    }
    // Cross-account ECR: the other account's repository policies (or creation template) name these roles.
    for (const fn of ["plan", "copy", "merge", "backfill"] as const) {
      const role = this.ferry.functions[fn].role;
      if (!role) continue;
      new CfnOutput(this, `${fn[0]?.toUpperCase()}${fn.slice(1)}RoleArn`, {
        value: role.roleArn,
        description: `The ${fn} function's role, for cross-account ECR repository policies (${fn === "copy" || fn === "merge" ? "pull and push" : "pull"})`,
      });
    }
    Validations.of(this).acknowledge({
      id: "AwsSolutions-APIG4",
      reason:
        "Webhook routes cannot carry SigV4: senders are verified in the function (HMAC, tokens, OIDC). The status page's routes (only with api.statusPage) cannot either: a browser signs nothing, so the function checks a session cookie signed with the API token. /replications uses IAM.",
    });
    Validations.of(this).acknowledge({
      id: "AwsSolutions-L1",
      reason: "nodejs22.x is pinned: the bundles target Node 22, the runtime they are tested on.",
    });
  }
}
