/**
 * A plan's tasks and their copy messages, derived from the recorded plan alone, so that plan,
 * a re-run of plan and the reconciler all name the same tasks.
 */
import type { Descriptor } from "../oci/manifest.ts";
import { formatPlatform } from "../oci/platform.ts";
import { parseRepository } from "../oci/reference.ts";
import { type CopyMessage, INLINE_MANIFEST_MAX } from "../queue/messages.ts";
import { isAttestation } from "../replicate/index-build.ts";
import { copyUnits, type SourceRoot, sourceRootOf } from "../replicate/root-plan.ts";
import type { Referrer } from "../oci/referrers.ts";
import type { JobPlan, Task } from "../state/store.ts";

/** The source root a plan recorded. */
export function rootOf(plan: JobPlan): SourceRoot {
  return sourceRootOf({ ...plan.root, bytes: Buffer.from(plan.root.bytes, "base64"), sourceDigest: plan.sourceDigest, platforms: plan.platforms });
}

/** The tasks of a plan, derived from it alone: every run of plan (or a re-drive) gets the same ids. */
export function tasksOf(plan: JobPlan): Task[] {
  const root = rootOf(plan);
  const children = copyUnits(root);
  const platformOf = new Map(children.filter((c) => c.platform && !isAttestation(c)).map((c) => [c.digest, formatPlatform(c.platform)]));
  const label = (c: Descriptor) =>
    isAttestation(c)
      ? `attestation ${platformOf.get(c.annotations?.["vnd.docker.reference.digest"] ?? "") ?? ""}`.trim()
      : c.platform
        ? formatPlatform(c.platform)
        : "";
  const subjectLabel = (digest: string) => (digest === root.digest ? "the image" : (platformOf.get(digest) ?? digest.slice(0, 19)));
  const tasks: Task[] = [];
  const task = (i: number, prefix: string, d: Descriptor, platform: string, destination: string): Task => ({
    id: `d${i}-${prefix}${d.digest.slice(d.digest.indexOf(":") + 1, d.digest.indexOf(":") + 17)}`,
    platform,
    digest: d.digest,
    mediaType: d.mediaType,
    size: d.size,
    destination,
    state: "pending",
  });
  const fanned = new Map((plan.fanOut?.units ?? []).map((u) => [u.unit.digest, u]));
  plan.destinations.forEach((dst, i) => {
    if (dst.upToDate) return;
    if (!dst.rootUpToDate && plan.only !== "referrers") {
      const blobs = new Set<string>();
      for (const c of children) {
        tasks.push(task(i, "", c, label(c), dst.repository));
        // An image with several large blobs: each is a task of its own (the same blob once).
        for (const b of fanned.get(c.digest)?.blobs ?? []) {
          if (blobs.has(b.digest)) continue;
          blobs.add(b.digest);
          tasks.push(task(i, "b", b, `${label(c) || "image"} blob ${b.digest.slice(7, 19)}`, dst.repository));
        }
      }
    }
    for (const r of plan.referrers ?? []) tasks.push(task(i, "r", r.descriptor, referrerTaskLabel(r, subjectLabel(r.subject)), dst.repository));
  });
  return tasks;
}

/** `signature (cosign) of linux/amd64`, `application/spdx+json of the image`. */
function referrerTaskLabel(r: Referrer, subject: string): string {
  const kind = r.tag ? `cosign ${r.tag.slice(r.tag.lastIndexOf(".") + 1)}` : (r.descriptor.artifactType ?? "artifact");
  return `referrer ${kind} of ${subject}`;
}

/** One copy message per task. */
export function copyMessages(jobId: string, plan: JobPlan, tasks: Task[], read: ReadonlyMap<string, Buffer> = new Map()): CopyMessage[] {
  const referrerDigests = new Set((plan.referrers ?? []).map((r) => r.descriptor.digest));
  const fannedUnits = new Set((plan.fanOut?.units ?? []).map((u) => u.unit.digest));
  const fannedBlobs = new Set((plan.fanOut?.units ?? []).flatMap((u) => u.blobs.map((b) => b.digest)));
  const skipAbove = plan.fanOut?.skipAbove;
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
    ...(referrerDigests.has(t.digest) ? { contentOnly: true } : {}),
    ...(fannedUnits.has(t.digest) && skipAbove ? { contentOnly: true, skipAbove } : {}),
    ...(fannedBlobs.has(t.digest) ? { blob: true } : {}),
    ...inlined(read.get(t.digest)),
  }));
}

/** A manifest small enough to travel in its copy message. */
function inlined(bytes: Buffer | undefined): { manifest?: string } {
  return bytes && bytes.byteLength <= INLINE_MANIFEST_MAX ? { manifest: bytes.toString("base64") } : {};
}
