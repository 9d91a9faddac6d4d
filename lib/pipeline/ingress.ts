/**
 * Ingress: turns a request into a job and a plan message. No registry I/O happens here, so
 * webhook senders with 1–3 s timeouts get their answer at once.
 */
import { createHash, randomUUID } from "node:crypto";
import { FerryError } from "../errors.ts";
import { parsePlatform } from "../oci/platform.ts";
import { parseReference } from "../oci/reference.ts";
import type { ReplicationRequest } from "../queue/messages.ts";
import type { PipelineDeps } from "./deps.ts";

/** A deterministic job id for a delivery, so duplicate deliveries land on the same job. */
export function deliveryJobId(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 32);
}

/** Checks references and platforms; INVALID_REFERENCE / USAGE carry the field at fault (`field`). */
export function validateRequest(r: ReplicationRequest): void {
  const field = (name: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      throw new FerryError(e instanceof FerryError ? e.code : "USAGE", `${name}: ${(e as Error).message}`, { field: name });
    }
  };
  field("source", () => parseReference(r.source, { defaultTag: false }));
  for (const [i, d] of r.destinations.entries()) field(`destinations[${i}]`, () => parseReference(d, { defaultTag: false }));
  for (const [i, p] of (r.platforms ?? []).entries()) field(`platforms[${i}]`, () => parsePlatform(p));
}

/**
 * Creates the job (unless `jobId` exists already: a duplicate delivery) and enqueues its plan.
 * A duplicate of a job still `queued` re-sends the plan message (planning is idempotent), so a
 * crash between the two writes cannot strand a job.
 */
export async function submitReplication(
  deps: PipelineDeps,
  request: ReplicationRequest,
  jobId: string = randomUUID(),
): Promise<{ id: string; created: boolean }> {
  validateRequest(request);
  const created = await deps.store.createJob({ id: jobId, request });
  if (!created) {
    const existing = await deps.store.getJob(jobId);
    if (existing?.status !== "queued") return { id: jobId, created: false };
  }
  await deps.queues.send("plan", [{ v: 1, kind: "plan", jobId }]);
  deps.log.info(created ? "job queued" : "duplicate delivery of a queued job: plan re-sent", {
    jobId,
    src: request.source,
    dst: request.destinations,
    trigger: request.trigger,
  });
  return { id: jobId, created };
}
