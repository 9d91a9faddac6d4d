/**
 * The job store in memory: the same semantics as the DynamoDB adapter (`dynamodb.ts`), write for
 * write, so use-case tests and `--in-memory` runs need no DynamoDB stand-in. It passes the same
 * job-store and recovery suites. Nothing survives the process; it is not wired into `ferry serve`.
 * Its state is `memory/tables.ts`; one part per concern of the port works on it.
 */
import { ComposedJobStore } from "./composed.ts";
import { MemoryBudgets } from "./memory/budgets.ts";
import { MemoryCursors } from "./memory/cursors.ts";
import { MemoryJobs } from "./memory/jobs.ts";
import { MemoryMergeClaims } from "./memory/merge-claims.ts";
import { MemorySubjects } from "./memory/subjects.ts";
import { MemoryTables, type MemoryTablesOptions } from "./memory/tables.ts";
import { MemoryTagLeases } from "./memory/tag-leases.ts";
import { MemoryTasks } from "./memory/tasks.ts";
import { MemoryUploads } from "./memory/uploads.ts";
import { MemoryWrittenTags } from "./memory/written-tags.ts";

export type MemoryJobStoreOptions = MemoryTablesOptions;

/** A `JobStore` held in this process, with the DynamoDB adapter's semantics; state dies with it. */
export class MemoryJobStore extends ComposedJobStore {
  private readonly tables: MemoryTables;

  constructor(opts: MemoryJobStoreOptions = {}) {
    const m = new MemoryTables(opts);
    super({
      jobs: new MemoryJobs(m),
      merges: new MemoryMergeClaims(m),
      tasks: new MemoryTasks(m),
      tags: new MemoryTagLeases(m),
      cursors: new MemoryCursors(m),
      subjects: new MemorySubjects(m),
      uploads: new MemoryUploads(m),
      budgets: new MemoryBudgets(m),
      written: new MemoryWrittenTags(),
    });
    this.tables = m;
  }

  /** The epoch second at which a finished job will be dropped; undefined while it is not final. */
  expiresAt(jobId: string): number | undefined {
    return this.tables.job(jobId)?.ttl;
  }
}
