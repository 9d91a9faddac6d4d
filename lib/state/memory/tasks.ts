/** Tasks in memory: task items per job, each outcome counted once on the job item's sets; who enqueues the merge is decided on the job item. */
import { type ErrorRecord, FerryError } from "../../errors.ts";
import { taskCompletion } from "../rules.ts";
import type { Task, TaskCompletion, TaskRecords } from "../store.ts";
import { asJson, type MemoryTables } from "./tables.ts";

export class MemoryTasks implements TaskRecords {
  private readonly m: MemoryTables;

  constructor(m: MemoryTables) {
    this.m = m;
  }

  async putTasks(jobId: string, tasks: Task[]): Promise<void> {
    let items = this.m.tasks.get(jobId);
    if (!items) {
      items = new Map();
      this.m.tasks.set(jobId, items);
    }
    // A put replaces the task item whole: only these fields are written (no error, no attempts).
    for (const t of tasks) {
      items.set(t.id, { id: t.id, platform: t.platform, digest: t.digest, mediaType: t.mediaType, size: t.size, destination: t.destination, state: t.state });
    }
  }

  async completeTask(jobId: string, taskId: string, outcome: { state: "done" | "failed"; error?: ErrorRecord }): Promise<TaskCompletion> {
    // The task (for display): a failure never overwrites a success.
    const task = this.m.tasks.get(jobId)?.get(taskId);
    if (task && (outcome.state === "done" || task.state !== "done")) {
      task.state = outcome.state;
      if (outcome.error) task.error = asJson(outcome.error);
      else delete task.error;
    }
    // The job: adding to a set is idempotent, so a redelivered completion counts once.
    const it = this.m.job(jobId);
    if (!it) throw new FerryError("NOT_FOUND", `job ${jobId} does not exist`);
    (outcome.state === "done" ? it.done : it.failed).add(taskId);
    it.updatedAt = this.m.stamp();
    return taskCompletion(it.done, it.failed, it.taskCount);
  }

  async noteTaskAttempt(jobId: string, taskId: string, error: ErrorRecord): Promise<void> {
    const task = this.m.tasks.get(jobId)?.get(taskId);
    // A late attempt's error on a task already done is not shown (DynamoDB's readers hide it too).
    if (!task || task.state === "done") return;
    task.error = asJson(error);
    task.attempts = (task.attempts ?? 0) + 1;
  }

  async claimMergeEnqueue(jobId: string, taskId: string): Promise<boolean> {
    const it = this.m.job(jobId);
    if (!it || (it.mergeEnqueuedBy !== undefined && it.mergeEnqueuedBy !== taskId)) return false;
    it.mergeEnqueuedBy = taskId;
    return true;
  }
}
