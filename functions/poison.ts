/** Records a poison message's reason on its job before the message goes to the DLQ. */
import type { Runtime } from "./runtime.ts";

export async function failJob(jobId: string, reason: string, runtime: Runtime): Promise<void> {
  await runtime.deps.store.updateJob(jobId, { status: "failed", error: reason }, ["queued", "planning", "copying", "merging"]);
}
