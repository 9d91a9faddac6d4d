/**
 * The table's item layout: keys and shards. Single-item conditional writes only (dynalite has no
 * transactions):
 *   JOB#<id>/JOB          the job: status, request, plan, result, task outcomes as string sets
 *   JOB#<id>/TASK#<task>  one item per task
 *   TAG#<dst:tag>/TAG     the ordering guard and lease of a destination tag
 *   CURSOR#<key>/CURSOR   a resume point
 *   SUBJ#<source>@<digest>/SUBJ  a source manifest ("host/repo", digest): string sets `dests`
 *                         (the "host/repo"s it was replicated to) and `held` (ids of jobs a
 *                         signature gate holds until it is signed); no TTL: it outlives its jobs
 * GSI `gsi1` (gsi1pk = "JOBS#0".."JOBS#7", gsi1sk = createdAt#id) lists recent jobs, newest first
 * across its shards (one partition took every job update's index write); `ttl` expires finished jobs.
 * GSI `active` (activeShard = "A#0".."A#7", createdAt; keys only) is sparse: only jobs not yet
 * final carry `activeShard`, so the reconciler reads just those, spread over 8 partitions.
 */
import { createHash } from "node:crypto";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";

/** An item, a key or expression values, as the table holds them. */
export type Item = Record<string, AttributeValue>;

/** Partitions of the `active` index (and of `gsi1`): enough to spread writes, few enough to read in one pass. */
export const ACTIVE_SHARDS = 8;

const shardOf = (jobId: string) => (createHash("sha256").update(jobId).digest()[0] ?? 0) % ACTIVE_SHARDS;

/** The `active` index partition of a job not yet final. */
export const activeShard = (jobId: string): string => `A#${shardOf(jobId)}`;
/** Every `active` index partition. */
export const ACTIVE_PARTITIONS: readonly string[] = Array.from({ length: ACTIVE_SHARDS }, (_, i) => `A#${i}`);

/** The `gsi1` partition a new job is listed in. */
export const recentShard = (jobId: string): string => `JOBS#${shardOf(jobId)}`;
/** Every `gsi1` partition; "JOBS" is the one partition of tables written before sharding. */
export const RECENT_PARTITIONS: readonly string[] = [...Array.from({ length: ACTIVE_SHARDS }, (_, i) => `JOBS#${i}`), "JOBS"];

/** The partition key prefix of job items: `JOB#<id>`. */
export const JOB_PREFIX = "JOB#";

export const jobPk = (jobId: string): string => `${JOB_PREFIX}${jobId}`;
export const jobKey = (jobId: string): Item => marshall({ pk: jobPk(jobId), sk: "JOB" });
export const taskKey = (jobId: string, taskId: string): Item => marshall({ pk: jobPk(jobId), sk: `TASK#${taskId}` });
export const tagKey = (key: string): Item => marshall({ pk: `TAG#${key}`, sk: "TAG" });
export const cursorKey = (key: string): Item => marshall({ pk: `CURSOR#${key}`, sk: "CURSOR" });
export const subjectKey = (source: string, digest: string): Item => marshall({ pk: `SUBJ#${source}@${digest}`, sk: "SUBJ" });
