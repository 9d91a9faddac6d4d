/**
 * A signature, SBOM or attestation pushed after its image was mirrored (a cosign tag or a
 * referrers fallback tag moved at the source): jobs a signature gate held back for that image are
 * planned again, and a job copies just the referrers to every destination the image went to.
 */
import type { ReferrerEvent, ReplicationRequest } from "../queue/messages.ts";
import type { PipelineDeps } from "./deps.ts";
import { GATE_CODES } from "./gate.ts";
import { deliveryJobId, submitReplication } from "./ingress.ts";

export type ReferrerEventOutcome = { requeued: number; job?: string };

export async function handleReferrerEvent(deps: PipelineDeps, ev: ReferrerEvent): Promise<ReferrerEventOutcome> {
  const source = ev.source.toString();
  let requeued = 0;
  for (const jobId of await deps.store.takeHeld(source, ev.subject)) {
    if (!(await deps.store.requeueJob(jobId, GATE_CODES))) continue;
    await deps.queues.send("plan", [{ v: 1, kind: "plan", jobId }]);
    requeued++;
    deps.log.info("a signature arrived: the job the gate held back is planned again", { jobId, subject: ev.subject });
  }
  const destinations = await deps.store.replicasOf(source, ev.subject);
  if (destinations.length === 0) {
    deps.log.info("referrer pushed for an image not mirrored (yet); nothing to copy", { src: source, subject: ev.subject, tag: ev.tag });
    return { requeued };
  }
  const request: ReplicationRequest = {
    source: ev.source.at(ev.subject).toString(),
    destinations: destinations.sort(),
    trigger: "webhook",
    eventTime: ev.eventTime,
    deliveryId: ev.deliveryId,
    only: "referrers",
    ...(ev.rule ? { rule: ev.rule } : {}),
    ...(ev.referrers ? { referrers: ev.referrers } : {}),
  };
  const { id } = await submitReplication(deps, request, deliveryJobId("referrers", source, ev.subject, ev.deliveryId));
  return { requeued, job: id };
}
