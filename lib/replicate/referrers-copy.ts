/**
 * Copying referrers after their subjects: each manifest byte-exact by digest (shallowest first),
 * then, at a destination without the referrers API, each subject's fallback tag index merged
 * with what it already lists (never overwritten), then cosign's tags as tags.
 */
import { onSide } from "../errors.ts";
import type { Descriptor } from "../oci/manifest.ts";
import { OCI_INDEX } from "../oci/media-types.ts";
import { fallbackTag, mergeFallbackIndex } from "../oci/referrers.ts";
import type { CallOptions } from "../registry/client.ts";
import type { CopySession, ManifestAction } from "./copy-session.ts";
import type { ImageSink } from "./ports.ts";
import type { Referrer } from "./referrers.ts";

/** What copying one referrer did. */
export interface ReferrerCopy {
  subject: string;
  digest: string;
  artifactType?: string;
  via: Referrer["via"];
  tag?: string;
  action: ManifestAction;
}

/** How progress and jobs name a referrer: its artifact type (or cosign tag kind), and what it refers to. */
export function referrerLabel(r: Pick<Referrer, "descriptor" | "tag" | "subject">): string {
  const kind = r.tag ? `cosign ${r.tag.slice(r.tag.lastIndexOf(".") + 1)}` : (r.descriptor.artifactType ?? "artifact");
  return `referrer ${kind} of ${r.subject.slice(0, 19)}`;
}

/** True when every referrer is at `sink` already (a cosign tag pointing at it, or the manifest by digest). */
export async function referrersPresent(sink: ImageSink, referrers: Referrer[], call: CallOptions): Promise<boolean> {
  const there = await Promise.all(
    referrers.map(async (r) => (await onSide(sink.manifestHead(r.tag ?? r.descriptor.digest, call), "destination"))?.digest === r.descriptor.digest),
  );
  return there.every(Boolean);
}

/**
 * Runs a tag write (`write` resolves to the digest it pushed, if any) under whatever guards the
 * tag against concurrent writers: the pipeline's tag lease; nothing for a lone `ferry copy`.
 */
export type TagGuard = (tag: string, kind: "fallback" | "cosign", write: () => Promise<string | undefined>) => Promise<void>;

const unguarded: TagGuard = async (_tag, _kind, write) => {
  await write();
};

/** Copies `referrers` (in discovery order: subjects first) into the session's destination. */
export async function copyReferrers(session: CopySession, referrers: Referrer[], opts: { guard?: TagGuard } = {}): Promise<ReferrerCopy[]> {
  const guard = opts.guard ?? unguarded;
  const done: ReferrerCopy[] = [];
  const depths = [...new Set(referrers.map((r) => r.depth))].sort((a, b) => a - b);
  for (const depth of depths) {
    const level = referrers.filter((r) => r.depth === depth);
    const actions = await Promise.all(level.map((r) => session.copyManifest(r.descriptor, referrerLabel(r))));
    level.forEach((r, i) => {
      done.push({
        subject: r.subject,
        digest: r.descriptor.digest,
        ...(r.descriptor.artifactType ? { artifactType: r.descriptor.artifactType } : {}),
        via: r.via,
        ...(r.tag ? { tag: r.tag } : {}),
        action: actions[i] as ManifestAction,
      });
    });
  }
  await updateFallbackIndexes(session, referrers, guard);
  await copyCosignTags(session, referrers, guard);
  return done;
}

/** Whether the destination keeps referrers lists itself: it answered `OCI-Subject`, or its referrers API answers. */
async function destinationListsReferrers(session: CopySession, subject: string): Promise<boolean> {
  if (session.subjectsAnswered.size > 0) return true;
  if (!session.sink.referrersList) return false;
  return (await onSide(session.sink.referrersList(subject, session.callOptions()), "destination")).supported;
}

/** At a destination without the referrers API, each subject's fallback index gains the referrers it lacks. */
async function updateFallbackIndexes(session: CopySession, referrers: Referrer[], guard: TagGuard): Promise<void> {
  const bySubject = new Map<string, Descriptor[]>();
  for (const r of referrers.filter((x) => x.via !== "cosign")) bySubject.set(r.subject, [...(bySubject.get(r.subject) ?? []), r.descriptor]);
  const [first] = bySubject.keys();
  if (first === undefined || (await destinationListsReferrers(session, first))) return;
  for (const [subject, descriptors] of bySubject) await guard(fallbackTag(subject), "fallback", () => updateFallbackIndex(session, subject, descriptors));
}

/**
 * Merges `descriptors` into the fallback index of `subject` at the session's destination and
 * pushes it when something was added. Read, merge and write: concurrent writers must hold the
 * tag's guard (the pipeline's tag lease), or an entry added in between could be lost.
 */
export async function updateFallbackIndex(session: CopySession, subject: string, descriptors: Descriptor[]): Promise<string | undefined> {
  const sink = session.sink;
  const call = session.callOptions();
  const tag = fallbackTag(subject);
  const there = await onSide(sink.manifestHead(tag, call), "destination");
  const existing = there ? (await onSide(sink.manifestGet(there.digest, call), "destination")).bytes : undefined;
  const merged = mergeFallbackIndex(existing, descriptors);
  if (merged.added === 0) return undefined;
  await session.putManifest(tag, merged.bytes, OCI_INDEX, "referrers");
  return merged.digest;
}

/** cosign's tags point at the same digests at the destination as at the source. */
async function copyCosignTags(session: CopySession, referrers: Referrer[], guard: TagGuard): Promise<void> {
  const call = session.callOptions();
  for (const r of referrers) {
    const tag = r.tag;
    if (!tag) continue;
    await guard(tag, "cosign", async () => {
      const there = await onSide(session.sink.manifestHead(tag, call), "destination");
      if (there?.digest === r.descriptor.digest) return undefined;
      const raw = await onSide(session.source.manifestGet(r.descriptor.digest, call), "source");
      await session.putManifest(tag, raw.bytes, raw.mediaType, referrerLabel(r));
      return raw.digest;
    });
  }
}
