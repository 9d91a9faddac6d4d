/**
 * A plan's tasks and their copy messages, derived from the recorded plan alone, so that plan,
 * a re-run of plan and the reconciler all name the same tasks.
 */
import type { Descriptor } from "../oci/manifest.ts";
import { formatPlatform } from "../oci/platform.ts";
import { parseRepository } from "../oci/reference.ts";
import type { CopyMessage } from "../queue/messages.ts";
import { isAttestation } from "../replicate/index-build.ts";
import { copyUnits, type SourceRoot, sourceRootOf } from "../replicate/root-plan.ts";
import type { JobPlan, Task } from "../state/store.ts";

/** The source root a plan recorded. */
export function rootOf(plan: JobPlan): SourceRoot {
  return sourceRootOf({ ...plan.root, bytes: Buffer.from(plan.root.bytes, "base64"), sourceDigest: plan.sourceDigest, platforms: plan.platforms });
}

/** The tasks of a plan, derived from it alone: every run of plan (or a re-drive) gets the same ids. */
export function tasksOf(plan: JobPlan): Task[] {
  const children = copyUnits(rootOf(plan));
  const platformOf = new Map(children.filter((c) => c.platform && !isAttestation(c)).map((c) => [c.digest, formatPlatform(c.platform)]));
  const label = (c: Descriptor) =>
    isAttestation(c)
      ? `attestation ${platformOf.get(c.annotations?.["vnd.docker.reference.digest"] ?? "") ?? ""}`.trim()
      : c.platform
        ? formatPlatform(c.platform)
        : "";
  const tasks: Task[] = [];
  plan.destinations.forEach((dst, i) => {
    if (dst.upToDate) return;
    for (const c of children) {
      const hex = c.digest.slice(c.digest.indexOf(":") + 1);
      tasks.push({
        id: `d${i}-${hex.slice(0, 16)}`,
        platform: label(c),
        digest: c.digest,
        mediaType: c.mediaType,
        size: c.size,
        destination: dst.repository,
        state: "pending",
      });
    }
  });
  return tasks;
}

/** One copy message per task. */
export function copyMessages(jobId: string, plan: JobPlan, tasks: Task[]): CopyMessage[] {
  return tasks.map((t) => ({
    v: 1,
    kind: "copy",
    jobId,
    taskId: t.id,
    source: parseRepository(plan.source),
    destination: parseRepository(t.destination),
    digest: t.digest,
    mediaType: t.mediaType,
    size: t.size,
    platform: t.platform,
  }));
}
