/**
 * Least privilege per function, derived from the config: each role gets the DynamoDB actions its
 * code makes (functions/*.ts → lib/pipeline → lib/state/dynamodb), the queues it sends to, the
 * secrets it reads, and ECR rights on exactly the repositories the config names (reads on sources,
 * pushes on destinations; see ecr.ts). Every statement is written out here, not left to CDK's
 * grant helpers, so the template says exactly what each function may do.
 */
import { Validations } from "aws-cdk-lib";
import { Effect, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import type { FerryConfig } from "../lib/config.ts";
import { type EcrAccess, isPattern, repositoryArn } from "./ecr.ts";

export type FnName = "api" | "webhook" | "plan" | "copy" | "merge" | "backfill" | "reconcile";
type Stage = "plan" | "copy" | "merge";

/**
 * Webhook secrets are read when a delivery is verified (lib/pipeline/webhook-ingress.ts), so only
 * the webhook function may read them; true would let every function read them (as when every
 * cold start resolved them).
 */
export const WEBHOOK_SECRETS_AT_EVERY_COLD_START = false;

/**
 * DynamoDB actions per function, as its code makes them:
 *   api       createJob (PutItem), getJob (GetItem; with tasks a Query), listJobs (Query gsi1),
 *             redrive/fail: redriveJob, reopenJob, updateJob (UpdateItem)
 *   webhook   createJob (PutItem), getJob (GetItem)
 *   plan      getJob, recordPlan/updateJob/touchJob/holdForSignature/takeHeld/addReplicas (UpdateItem),
 *             putTasks (BatchWriteItem), requeueJob (UpdateItem, Query, BatchWriteItem deletes),
 *             replicasOf (GetItem), a late referrer's job (PutItem), reopenJob (Query)
 *   copy      getJob, noteTaskAttempt/completeTask/claimMergeEnqueue/touchJob (UpdateItem), reopenJob (Query),
 *             a large blob's upload record (PutItem, GetItem, DeleteItem)
 *   merge     getJob (with tasks: Query), claimMerge/releaseMerge/updateJob/tag leases/addReplicas (UpdateItem), getTag (GetItem)
 *   backfill  cursors (GetItem, PutItem, DeleteItem), createJob (PutItem), getJob (GetItem)
 *   and every function that talks to registries (plan, copy, merge, backfill): a registry's shared
 *   request budget (GetItem, UpdateItem on its RATE# item)
 *   reconcile listActive (Query active), getJob (GetItem), updateJob/redriveJob (UpdateItem)
 * No function scans.
 */
export const TABLE_ACTIONS: Record<FnName, { table: string[]; indexes?: { names: string[]; actions: string[] } }> = {
  api: { table: ["GetItem", "PutItem", "Query", "UpdateItem"], indexes: { names: ["gsi1"], actions: ["Query"] } },
  webhook: { table: ["GetItem", "PutItem"] },
  plan: { table: ["BatchWriteItem", "GetItem", "PutItem", "Query", "UpdateItem"] },
  copy: { table: ["DeleteItem", "GetItem", "PutItem", "Query", "UpdateItem"] },
  merge: { table: ["GetItem", "Query", "UpdateItem"] },
  backfill: { table: ["DeleteItem", "GetItem", "PutItem", "UpdateItem"] },
  reconcile: { table: ["GetItem", "UpdateItem"], indexes: { names: ["active"], actions: ["Query"] } },
};

/**
 * Queues each function sends to. A job's next step goes to the queue its status calls for
 * (recovery.ts driveJob), so whatever re-opens or re-drives a job (the API's redrive, a redriven
 * message in plan, copy or merge, the reconciler) may send to all three; merge also defers itself.
 */
export const SENDS: Record<FnName, Stage[]> = {
  api: ["plan", "copy", "merge"],
  webhook: ["plan"],
  plan: ["plan", "copy", "merge"],
  copy: ["plan", "copy", "merge"],
  merge: ["plan", "copy", "merge"],
  backfill: ["plan"],
  reconcile: ["plan", "copy", "merge"],
};

/**
 * Functions whose code ends jobs, and so reports their ends (lib/pipeline/notify.ts): api (an
 * operator's fail), plan (the signature gate, a last delivery), copy (a last delivery), merge, and
 * reconcile (STUCK). webhook and backfill only create jobs: no sns:Publish, and no SNS client in
 * their bundles (ferry.ts).
 */
export const JOB_ENDERS: ReadonlySet<FnName> = new Set<FnName>(["api", "plan", "copy", "merge", "reconcile"]);

/** Registry API calls as ECR authorizes them: manifests and blobs read (GET/HEAD), tags listed. */
export const ECR_READ = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:ListImages"];
/**
 * Blob uploads and manifest PUTs; CreateRepository lets a repository creation template with
 * CREATE_ON_PUSH create a destination repository on its first push (on these names only).
 */
export const ECR_PUSH = ["ecr:CompleteLayerUpload", "ecr:CreateRepository", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"];

/** Which functions talk to registries, and how: sources read by all four; plan and backfill only read destinations. */
const REGISTRY_USERS = ["plan", "copy", "merge", "backfill"] as const;
const PUSHERS = new Set<FnName>(["copy", "merge"]);

export interface GrantTargets {
  config: FerryConfig;
  functions: Record<FnName, IFunction>;
  tableArn: string;
  queueArns: Record<Stage, string>;
  /** The dead-letter queues: the API function peeks them when the status page is on. */
  deadLetterQueueArns?: Record<Stage, string>;
  ecr: EcrAccess;
}

const allow = (actions: string[], resources: string[]) => new PolicyStatement({ effect: Effect.ALLOW, actions, resources });

/** Adds each function's statements to its role, and acknowledges (truthfully) the patterns cdk-nag flags. */
export function grantLeastPrivilege(t: GrantTargets): void {
  const { config, functions: f } = t;
  const registrySecrets = unique(config.registries.map((r) => r.secretArn));
  const webhookSecrets = unique(config.webhooks.map((w) => w.secretArn));
  const gateKeys = unique(
    config.rules.flatMap((r) => r.verify?.cosign.publicKeys ?? []).flatMap((k) => (typeof k === "object" && "secretArn" in k ? [k.secretArn] : [])),
  );
  const topics = unique(config.notifications.map((n) => ("sns" in n ? n.sns : undefined)));

  for (const [name, fn] of Object.entries(f) as Array<[FnName, IFunction]>) {
    const db = TABLE_ACTIONS[name];
    fn.addToRolePolicy(
      allow(
        db.table.map((a) => `dynamodb:${a}`),
        [t.tableArn],
      ),
    );
    if (db.indexes) {
      fn.addToRolePolicy(
        allow(
          db.indexes.actions.map((a) => `dynamodb:${a}`),
          db.indexes.names.map((i) => `${t.tableArn}/index/${i}`),
        ),
      );
    }
    fn.addToRolePolicy(
      allow(
        name === "reconcile" ? ["sqs:GetQueueAttributes", "sqs:SendMessage"] : ["sqs:SendMessage"],
        SENDS[name].map((s) => t.queueArns[s]),
      ),
    );
    const secrets = [
      ...(name === "webhook" || WEBHOOK_SECRETS_AT_EVERY_COLD_START ? webhookSecrets : []),
      ...((REGISTRY_USERS as readonly string[]).includes(name) ? registrySecrets : []),
      // Signature gate keys: only plan, where the gate runs.
      ...(name === "plan" ? gateKeys : []),
    ];
    if (secrets.length > 0) fn.addToRolePolicy(allow(["secretsmanager:GetSecretValue"], unique(secrets)));
    // SNS notifications: Publish on exactly the topics the config names, by the functions that end jobs.
    if (JOB_ENDERS.has(name) && topics.length > 0) fn.addToRolePolicy(allow(["sns:Publish"], topics));
  }

  // The status page (api.statusPage): the API function reads its login token, and peeks the DLQs
  // (ReceiveMessage leaving them visible, their depth): no DeleteMessage, no other queue's messages.
  const page = config.api.statusPage;
  if (page) {
    f.api.addToRolePolicy(allow(["secretsmanager:GetSecretValue"], [page.tokenSecretArn]));
    if (t.deadLetterQueueArns) f.api.addToRolePolicy(allow(["sqs:GetQueueAttributes", "sqs:ReceiveMessage"], Object.values(t.deadLetterQueueArns)));
  }

  // ECR: reads on sources (all four registry users) and on destinations (plan and backfill check
  // what is there; copy and merge also push there), and the account's auth token.
  const sources = t.ecr.sources.map(repositoryArn);
  const destinations = t.ecr.destinations.map(repositoryArn);
  if (sources.length + destinations.length === 0) return;
  for (const name of REGISTRY_USERS) {
    const fn = f[name];
    const reads = unique([...sources, ...(PUSHERS.has(name) ? [] : destinations)]);
    if (reads.length > 0) fn.addToRolePolicy(allow(ECR_READ, reads));
    if (PUSHERS.has(name) && destinations.length > 0) fn.addToRolePolicy(allow([...ECR_READ, ...ECR_PUSH].sort(), destinations));
    // Delete propagation (rules with `deletes: propagate`): plan runs the delete jobs; the registry
    // API's manifest DELETE is authorised in ECR as BatchDeleteImage.
    if (name === "plan" && t.ecr.deletable.length > 0) fn.addToRolePolicy(allow(["ecr:BatchDeleteImage"], t.ecr.deletable.map(repositoryArn)));
    // GetAuthorizationToken has no resource-level permissions: AWS requires "*".
    fn.addToRolePolicy(allow(["ecr:GetAuthorizationToken"], ["*"]));
    Validations.of(fn).acknowledge({ id: "AwsSolutions-IAM5[Resource::*]", reason: "ecr:GetAuthorizationToken supports no resource-level permissions." });
    for (const r of t.ecr.sources.filter(isPattern)) {
      Validations.of(fn).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${repositoryArn(r)}]`,
        reason: `Reads (no pushes) on the ECR repositories a rule's source glob names: ${r.host}/${r.name}.`,
      });
    }
    for (const r of t.ecr.destinations.filter(isPattern)) {
      Validations.of(fn).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${repositoryArn(r)}]`,
        reason: PUSHERS.has(name)
          ? `Pushes only to repositories under the literal prefix "${r.name.replace(/[*?].*$/, "")}" of ${r.host}: the names a destination template renders from its rule's sources.`
          : name === "plan" && t.ecr.deletable.some((d) => repositoryArn(d) === repositoryArn(r))
            ? `Reads, and deletes of tags ferry itself wrote (a rule's deletes: propagate), on destination repositories under the literal prefix "${r.name.replace(/[*?].*$/, "")}" of ${r.host}.`
            : `Reads (no pushes) on destination repositories under the literal prefix "${r.name.replace(/[*?].*$/, "")}" of ${r.host}, to see what is already there.`,
      });
    }
  }
}

function unique(values: Array<string | undefined>): string[] {
  return [...new Set(values.filter((v): v is string => !!v))];
}
