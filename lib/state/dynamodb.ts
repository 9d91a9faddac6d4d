/**
 * The job store on DynamoDB: one table (its layout in `dynamodb/table.ts`), one part per concern
 * of the port over it (`dynamodb/jobs.ts`, `merge-claims.ts`, `tasks.ts`, `tag-leases.ts`,
 * `cursors.ts`, `subjects.ts`, `uploads.ts`, `written-tags.ts`), items marshalled by `dynamodb/codec.ts`, the table made by `dynamodb/schema.ts`.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ComposedJobStore } from "./composed.ts";
import type { DynamoTable } from "./dynamodb/context.ts";
import { DynamoBudgets } from "./dynamodb/budgets.ts";
import { DynamoCursors } from "./dynamodb/cursors.ts";
import { DynamoJobs } from "./dynamodb/jobs.ts";
import { DynamoMergeClaims } from "./dynamodb/merge-claims.ts";
import { DynamoSubjects } from "./dynamodb/subjects.ts";
import { DynamoTagLeases } from "./dynamodb/tag-leases.ts";
import { DynamoTasks } from "./dynamodb/tasks.ts";
import { DynamoUploads } from "./dynamodb/uploads.ts";
import { DynamoWrittenTags } from "./dynamodb/written-tags.ts";

export { getCursorItem } from "./dynamodb/cursors.ts";
export { ensureTable } from "./dynamodb/schema.ts";
export { ACTIVE_SHARDS } from "./dynamodb/table.ts";

export interface DynamoJobStoreOptions {
  tableName: string;
  /** Days a finished job is kept before TTL removes it. */
  ttlDays?: number;
  now?: () => number;
}

/** The `JobStore` on the DynamoDB table `opts.tableName` (made by `ensureTable` locally, by infra/ on AWS). */
export class DynamoJobStore extends ComposedJobStore {
  constructor(db: DynamoDBClient, opts: DynamoJobStoreOptions) {
    const t: DynamoTable = { db, name: opts.tableName, ttlDays: opts.ttlDays ?? 14, now: opts.now ?? (() => Date.now()) };
    super({
      jobs: new DynamoJobs(t),
      merges: new DynamoMergeClaims(t),
      tasks: new DynamoTasks(t),
      tags: new DynamoTagLeases(t),
      cursors: new DynamoCursors(t),
      subjects: new DynamoSubjects(t),
      uploads: new DynamoUploads(t),
      budgets: new DynamoBudgets(t),
      written: new DynamoWrittenTags(t),
    });
  }
}
