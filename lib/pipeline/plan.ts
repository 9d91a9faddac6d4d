/**
 * plan: resolve the source, skip destinations already up to date, apply the platform filter,
 * record the tasks (one per child manifest × destination) and send one copy message per task.
 * Re-runnable: task ids are deterministic and every write is idempotent.
 */
import { describeError, FerryError, onSide } from "../errors.ts";
import type { Descriptor } from "../oci/manifest.ts";
import { formatPlatform, parsePlatform, platformMatches } from "../oci/platform.ts";
import { parseReference } from "../oci/reference.ts";
import type { CopyMessage } from "../queue/messages.ts";
import type { CallOptions } from "../registry/client.ts";
import { imagePlatform, parsePlatformLoose } from "../replicate/copy.ts";
import { filterIndex, isAttestation, verbatim } from "../replicate/index-build.ts";
import { RegistryStore } from "../replicate/registry-store.ts";
import type { JobPlan, PlannedDestination, Task } from "../state/store.ts";
import type { PipelineDeps } from "./deps.ts";
import { storeFor } from "./stores.ts";

export async function planJob(deps: PipelineDeps, jobId: string, opts: CallOptions = {}): Promise<void> {
  const job = await deps.store.getJob(jobId);
  if (!job) throw new FerryError("NOT_FOUND", `job ${jobId} does not exist`);
  if (!(await deps.store.updateJob(jobId, { status: "planning" }, ["queued", "planning"]))) {
    deps.log.info("plan: job already past planning, nothing to do", { jobId, status: job.status });
    return;
  }
  const r = job.request;
  const src = parseReference(r.source, { defaultTag: false });
  const srcRef = src.digest ?? src.tagName ?? "latest";
  const source = new RegistryStore(deps.registries.client(src.registry, "source"), src.repository);
  const sourceRepo = `${src.registry}/${src.repository}`;
  try {
    const head = await onSide(source.manifestHead(srcRef, opts), "source");
    if (!head) throw new FerryError("NOT_FOUND", `${src.toString()} not found`, { side: "source" });
    const raw = await onSide(source.manifestGet(head.digest, opts), "source");
    const wanted = r.platforms?.map(parsePlatform);
    let root: JobPlan["root"];
    let children: Descriptor[];
    let platforms: string[];
    if (raw.manifest.kind === "index") {
      const p = wanted ? filterIndex(raw, wanted) : verbatim(raw);
      root = { bytes: p.bytes.toString("base64"), digest: p.digest, mediaType: p.mediaType, rebuilt: p.rebuilt };
      children = dedupe(p.fromSource);
      platforms = p.fromSource.filter((d) => d.platform && !isAttestation(d)).map((d) => formatPlatform(d.platform));
    } else {
      const platform = await imagePlatform(source, raw, opts);
      if (wanted && !wanted.some((w) => platformMatches(w, parsePlatformLoose(platform)))) {
        throw new FerryError("PLATFORM_MISMATCH", `${src.toString()} is a single-platform image for ${platform || "an unknown platform"}`, { side: "source" });
      }
      root = { bytes: raw.bytes.toString("base64"), digest: raw.digest, mediaType: raw.mediaType, rebuilt: false };
      children = [{ mediaType: raw.mediaType, digest: raw.digest, size: raw.bytes.byteLength, ...(platform ? { platform: parsePlatformLoose(platform) } : {}) }];
      platforms = platform ? [platform] : [];
    }

    const destinations: PlannedDestination[] = [];
    for (const d of r.destinations) {
      const ref = parseReference(d, { defaultTag: false });
      const tag = ref.tagName ?? (src.tagName && !ref.digest ? src.tagName : undefined);
      const repository = `${ref.registry}/${ref.repository}`;
      let upToDate = false;
      if (tag && !r.merge) {
        const there = await onSide(storeFor(deps.registries, repository, "destination").manifestHead(tag, opts), "destination");
        upToDate = there?.digest === root.digest;
      }
      destinations.push({ repository, ...(tag ? { tag } : {}), ...(upToDate ? { upToDate } : {}) });
    }
    const plan: JobPlan = { source: sourceRepo, sourceDigest: head.digest, root, destinations, merge: r.merge === true, platforms };
    const platformOf = new Map(children.filter((c) => c.platform && !isAttestation(c)).map((c) => [c.digest, formatPlatform(c.platform)]));
    const label = (c: Descriptor) =>
      isAttestation(c) ? `attestation ${platformOf.get(c.annotations?.["vnd.docker.reference.digest"] ?? "") ?? ""}`.trim() : c.platform ? formatPlatform(c.platform) : "";
    const tasks: Task[] = [];
    destinations.forEach((d, i) => {
      if (d.upToDate) return;
      for (const c of children) {
        tasks.push({
          id: `d${i}-${c.digest.slice(c.digest.indexOf(":") + 1, c.digest.indexOf(":") + 17)}`,
          platform: label(c),
          digest: c.digest,
          mediaType: c.mediaType,
          size: c.size,
          destination: d.repository,
          state: "pending",
        });
      }
    });
    if (tasks.length === 0) {
      const result = {
        digest: root.digest,
        destinations: destinations.map((d) => ({
          destination: d.repository,
          digest: root.digest,
          upToDate: true,
          ...(d.tag ? { addressByTag: `${d.repository}:${d.tag}` } : {}),
          addressByDigest: `${d.repository}@${root.digest}`,
        })),
      };
      const first = result.destinations[0];
      await deps.store.updateJob(jobId, {
        status: "skipped",
        plan,
        taskCount: 0,
        result: { ...result, addressByDigest: first?.addressByDigest ?? "", ...(first?.addressByTag ? { addressByTag: first.addressByTag } : {}) },
      }, ["planning"]);
      deps.log.info("plan: every destination is up to date", { jobId, src: sourceRepo, digest: root.digest });
      return;
    }
    await deps.store.putTasks(jobId, tasks);
    await deps.store.updateJob(jobId, { plan, taskCount: tasks.length, status: "copying" }, ["planning", "copying"]);
    const messages: CopyMessage[] = tasks.map((t) => ({
      v: 1,
      kind: "copy",
      jobId,
      taskId: t.id,
      source: sourceRepo,
      destination: t.destination,
      digest: t.digest,
      mediaType: t.mediaType,
      size: t.size,
      platform: t.platform,
    }));
    await deps.queues.send("copy", messages);
    deps.log.info("plan: tasks sent", { jobId, src: sourceRepo, digest: root.digest, tasks: tasks.length, platforms });
  } catch (e) {
    // Permanent problems (missing source, no matching platform, bad credentials) end the job here.
    if (e instanceof FerryError && !e.retryable) {
      await deps.store.updateJob(jobId, { status: "failed", error: describeError(e) }, ["planning"]);
      deps.log.warn("plan failed", { jobId, src: sourceRepo, error: describeError(e) });
      return;
    }
    throw e;
  }
}

function dedupe(ds: Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  return ds.filter((d) => !seen.has(d.digest) && seen.add(d.digest));
}

