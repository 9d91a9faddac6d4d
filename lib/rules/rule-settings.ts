/** A rule's settings for what travels with an image: which referrers, and the signature gate's keys (zod schemas). */
import { z } from "zod";
import { parsePublicKeys } from "../oci/cosign.ts";

/** Which referrers travel with an image: all (the default), none, or only some artifact types. */
export const ReferrersSettingSchema = z.union([z.enum(["all", "none"]), z.object({ artifactTypes: z.array(z.string().min(1)).min(1).max(20) }).strict()]);

/** A public key: inline PEM, or where to read it (a file, an environment variable, a Secrets Manager secret). */
const publicKeySource = z.union([
  z.string().superRefine((s, ctx) => {
    if (!s.includes("-----BEGIN PUBLIC KEY-----")) {
      ctx.addIssue({ code: "custom", message: "want a PEM public key (-----BEGIN PUBLIC KEY-----), or {file}, {env} or {secretArn}" });
      return;
    }
    try {
      parsePublicKeys([s]);
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message.replace(/^public key \[0\]: /, "") });
    }
  }),
  z.object({ file: z.string().min(1) }).strict(),
  z.object({ env: z.string().min(1) }).strict(),
  z.object({ secretArn: z.string().min(1) }).strict(),
]);

/** The signature gate: a tag moves only when the image carries a valid cosign signature by one of these keys. */
export const VerifySettingsSchema = z.object({ cosign: z.object({ publicKeys: z.array(publicKeySource).min(1).max(20) }).strict() }).strict();

const notificationEnds = z
  .array(z.enum(["failed", "succeeded"]))
  .min(1)
  .default(["failed"]);
/** Where the job's status can be read (`<statusBase>/replications/<id>`), e.g. ferry serve's or the API's URL. */
const statusBase = z.string().url().optional();

/** An SNS topic's ARN (standard or FIFO), in any partition. */
export const SNS_TOPIC_ARN = /^arn:aws(?:-[a-z]+)*:sns:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}(?:\.fifo)?$/;

/**
 * Where a job's end is reported: a JSON POST to `url`, signed with HMAC-SHA256 of the body when a
 * secret is set (`X-Ferry-Signature: sha256=<hex>`), with Slack-compatible `text`; or the same JSON
 * published to an SNS topic (`sns: <topic ARN>`), with message attributes to filter on.
 */
export const NotificationSchema = z.union([
  z
    .object({
      url: z.string().url(),
      /** Which ends: failures by default. */
      on: notificationEnds,
      secret: z.string().min(1).optional(),
      secretEnv: z.string().min(1).optional(),
      statusBase,
    })
    .strict(),
  z
    .object({
      sns: z.string().regex(SNS_TOPIC_ARN, "want an SNS topic ARN: arn:aws:sns:<region>:<account>:<name>"),
      on: notificationEnds,
      statusBase,
      /** Another SNS endpoint than the region's (a VPC endpoint's own DNS name, a stand-in). */
      endpoint: z.string().url().optional(),
    })
    .strict(),
]);
