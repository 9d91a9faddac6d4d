/**
 * Messages between the pipeline's stages, versioned (`v`) and validated with zod at the edge:
 * plan (one replication request), copy (one manifest × one destination), merge (one job).
 */
import { z } from "zod";
import { ReferrersSettingSchema } from "../rules/rule-settings.ts";
import { isDigest } from "../oci/digest.ts";
import { parseRepository, Repository } from "../oci/reference.ts";

const digest = z.string().refine(isDigest, "not a digest");

/** A repository on the wire (`host/path`), a {@link Repository} once parsed; JSON writes it back as the string. */
const repository = z.union([z.string(), z.instanceof(Repository)]).transform((s, ctx) => {
  if (s instanceof Repository) return s;
  try {
    return parseRepository(s);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
    return z.NEVER;
  }
});

/** What started a replication. */
export const TriggerSchema = z.enum(["webhook", "api", "backfill"]);

export type ReferrersSetting = z.infer<typeof ReferrersSettingSchema>;

/** A normalized replication request, as every ingress produces it. */
export const ReplicationRequestSchema = z.object({
  /** Source reference (`host/repo:tag` or `host/repo@digest`, or both). */
  source: z.string().min(1),
  /** Destination repositories or references; a destination without a tag takes the source's. */
  destinations: z.array(z.string().min(1)).min(1).max(20),
  platforms: z.array(z.string()).optional(),
  merge: z.boolean().optional(),
  /** `index`: a single-platform image becomes a one-entry index. */
  normalize: z.literal("index").optional(),
  trigger: TriggerSchema,
  /** When the event happened at the source (ISO 8601): orders tag moves. */
  eventTime: z.string(),
  /** The sender's delivery id (webhooks), for deduplication. */
  deliveryId: z.string().optional(),
  rule: z.string().optional(),
  /** Referrers to copy with the image (default all). */
  referrers: ReferrersSettingSchema.optional(),
  /** `referrers`: the source (by digest) is already at the destinations; copy only what refers to it (a late signature). */
  only: z.literal("referrers").optional(),
  /** `delete`: the source tag was deleted; the destination tags ferry wrote from it go too (a rule's `deletes: propagate`). */
  action: z.literal("delete").optional(),
  /** With `delete`: not before this time (ISO 8601); a push of the tag until then cancels it. */
  notBefore: z.string().optional(),
});
export type ReplicationRequest = z.infer<typeof ReplicationRequestSchema>;

export const PlanMessageSchema = z.object({
  v: z.literal(1),
  kind: z.literal("plan"),
  jobId: z.string().min(1),
});
export type PlanMessage = z.infer<typeof PlanMessageSchema>;

/**
 * Something that refers to an image was pushed after the image was mirrored (a cosign tag, a
 * referrers fallback tag): its referrers go to every destination the subject went to.
 */
export const ReferrerEventSchema = z.object({
  v: z.literal(1),
  kind: z.literal("referrers"),
  source: repository,
  subject: digest,
  /** The tag whose push told (cosign's or the fallback tag). */
  tag: z.string().optional(),
  eventTime: z.string(),
  deliveryId: z.string(),
  rule: z.string().optional(),
  referrers: ReferrersSettingSchema.optional(),
});
export type ReferrerEvent = z.infer<typeof ReferrerEventSchema>;

/** What the plan queue carries. */
export const PlanQueueMessageSchema = z.discriminatedUnion("kind", [PlanMessageSchema, ReferrerEventSchema]);

/** Largest manifest a copy message carries (ten to a batch stay well inside SQS's 256 KiB). */
export const INLINE_MANIFEST_MAX = 16 * 1024;

export const CopyMessageSchema = z.object({
  v: z.literal(1),
  kind: z.literal("copy"),
  jobId: z.string().min(1),
  taskId: z.string().min(1),
  /** The source and destination repositories. */
  source: repository,
  destination: repository,
  digest,
  mediaType: z.string(),
  size: z.number().int().nonnegative(),
  platform: z.string(),
  /** A referrer: copy what its manifest references, not the manifest (merge pushes it after its subject). */
  contentOnly: z.boolean().optional(),
  /** With contentOnly: blobs of at least this many bytes are left to tasks of their own (a fan-out per blob). */
  skipAbove: z.number().int().positive().optional(),
  /** One large blob of a manifest, copied on its own (merge pushes the manifest once all are there). */
  blob: z.boolean().optional(),
  /** The manifest's bytes, base64, when plan read them (at most {@link INLINE_MANIFEST_MAX}): the copy checks them against `digest` and needs no GET. */
  manifest: z
    .string()
    .max(Math.ceil(INLINE_MANIFEST_MAX / 3) * 4)
    .optional(),
});
export type CopyMessage = z.infer<typeof CopyMessageSchema>;

export const MergeMessageSchema = z.object({
  v: z.literal(1),
  kind: z.literal("merge"),
  jobId: z.string().min(1),
  /** Set by a merge that found a destination tag busy and re-queued itself: when it began waiting. */
  waitingSince: z.number().int().nonnegative().optional(),
});
export type MergeMessage = z.infer<typeof MergeMessageSchema>;

export type QueueName = "plan" | "copy" | "merge";
export type AnyMessage = PlanMessage | ReferrerEvent | CopyMessage | MergeMessage;

/** Sends messages to the pipeline's queues. */
export interface QueuePort {
  /** Sends every message (in batches); `delaySeconds` holds them back (at most 900). */
  send(queue: QueueName, messages: AnyMessage[], opts?: { delaySeconds?: number }): Promise<void>;
  /**
   * Messages waiting to be received or in flight (SQS's approximate counts): while any are, a
   * quiet job may only be waiting its turn or between retries, which end with a coded reason.
   */
  backlog(queue: QueueName): Promise<number>;
  /** A delivery that failed comes back after `delaySeconds` (not after the whole visibility timeout). */
  retryLater(queue: QueueName, receiptHandle: string, delaySeconds: number): Promise<void>;
}
