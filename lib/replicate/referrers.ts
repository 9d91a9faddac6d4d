/**
 * Finding what refers to an image at its source: the OCI 1.1 referrers API, else the referrers
 * fallback tag's index, and cosign's `.sig`/`.att`/`.sbom` tags; recursively (a signature of an
 * SBOM), bounded in depth and count. One tag listing per repository and one API call per subject:
 * an image without referrers costs one request per place a referrer could be.
 */
import { onSide } from "../errors.ts";
import { artifactTypeMatches, COSIGN_KINDS, cosignTag, fallbackTag, type Referrer, referrerDescriptor } from "../oci/referrers.ts";
import type { CallOptions } from "../registry/client.ts";
import { Limiter } from "./limiter.ts";
import type { ImageSource } from "./ports.ts";
import { copyUnits, type SourceRoot } from "./root-plan.ts";

export type { Referrer };

/**
 * What one repository told discovery, shared by several discoveries there (a backfill's tags):
 * its tag list (listed once) and whether it has the referrers API (asked once).
 */
export interface ReferrerContext {
  tags?: Promise<Set<string>>;
  api?: boolean;
}

export interface ReferrerOptions {
  /** Shared with other discoveries in the same repository. */
  context?: ReferrerContext;
  /** Only referrers of these artifact types (cosign tags: their first layer's media type). */
  artifactTypes?: string[];
  /** How deep referrers of referrers are followed. Default 3. */
  maxDepth?: number;
  /** Stop after this many referrers (a warning says so). Default 200. */
  maxCount?: number;
  call?: CallOptions;
}

export interface Discovery {
  /** Referrers in the order they can be copied: every subject before what refers to it. */
  referrers: Referrer[];
  warnings: string[];
}

/** Discovers the referrers of `subjects` (digests) at `source`, and theirs in turn. */
export async function discoverReferrers(source: ImageSource, subjects: string[], opts: ReferrerOptions = {}): Promise<Discovery> {
  const finder = new ReferrerFinder(source, opts);
  const found: Referrer[] = [];
  const warnings: string[] = [];
  const seen = new Set(subjects);
  const maxDepth = opts.maxDepth ?? 3;
  const maxCount = opts.maxCount ?? 200;
  let level = [...new Set(subjects)];
  for (let depth = 1; depth <= maxDepth && level.length > 0; depth++) {
    const next: string[] = [];
    for (const list of await finder.referrersOfEach(level)) {
      for (const r of list) {
        if (seen.has(r.descriptor.digest)) continue;
        if (found.length >= maxCount) {
          warnings.push(`${source.name}: more than ${maxCount} referrers; the rest are not copied`);
          return { referrers: found, warnings };
        }
        seen.add(r.descriptor.digest);
        found.push({ ...r, depth });
        next.push(r.descriptor.digest);
      }
    }
    if (depth === maxDepth && next.length > 0) {
      const deeper = (await finder.referrersOfEach(next)).flat().filter((r) => !seen.has(r.descriptor.digest));
      if (deeper.length > 0) warnings.push(`${source.name}: referrers nested deeper than ${maxDepth} levels are not copied`);
    }
    level = next;
  }
  return { referrers: found, warnings };
}

/** `referrers` without those under `subject` (its referrers, theirs, …); `dropped` counts them. */
export function withoutDescendantsOf(referrers: Referrer[], subject: string): { kept: Referrer[]; dropped: number } {
  const gone = new Set([subject]);
  const kept = referrers.filter((r) => !(gone.has(r.subject) && gone.add(r.descriptor.digest)));
  return { kept, dropped: gone.size - 1 };
}

/**
 * The referrers that apply at a destination of `root`: those of every manifest copied, and of
 * the root itself when the destination gets it as the source has it (`rootKept`). A filtered or
 * merged index is a new digest: what refers to the source's index would refer to nothing there,
 * so it is left out, with a warning.
 */
export async function referrersFor(source: ImageSource, root: SourceRoot, opts: ReferrerOptions & { rootKept: boolean }): Promise<Discovery> {
  const kept = root.children === undefined || (opts.rootKept && !root.rebuilt);
  const units = copyUnits(root).map((d) => d.digest);
  // The source's root is gone from the destination unless kept, or copied as a child (an image made an index).
  const orphan = kept || units.includes(root.sourceDigest) ? undefined : root.sourceDigest;
  const subjects = [...units, ...(root.children && kept ? [root.digest] : []), ...(orphan ? [orphan] : [])];
  const found = await discoverReferrers(source, subjects, opts);
  if (!orphan) return found;
  const { kept: referrers, dropped } = withoutDescendantsOf(found.referrers, orphan);
  const warnings = [...found.warnings];
  if (dropped > 0) warnings.push(orphanWarning(dropped, orphan));
  return { referrers, warnings };
}

/** Why referrers of the source's index were not copied. */
export function orphanWarning(count: number, subject: string): string {
  return `${count} referrer(s) of the source index ${subject} are not copied: the destination gets another index (filtered or merged)`;
}

/** Looks in every place a referrer can be, remembering what one repository told it. */
class ReferrerFinder {
  /** The tag list, and whether the source has the referrers API (unknown until its first answer). */
  private readonly known: ReferrerContext;
  private readonly limiter = new Limiter(8);

  constructor(
    private readonly source: ImageSource,
    private readonly opts: ReferrerOptions,
  ) {
    this.known = opts.context ?? {};
    if (!source.referrersList) this.known.api = false;
  }

  /** The referrers of each subject; the first is asked alone, so one answer settles whether the API exists. */
  async referrersOfEach(subjects: string[]): Promise<Array<Array<Omit<Referrer, "depth">>>> {
    const [first, ...rest] = subjects;
    if (first === undefined) return [];
    const head = await this.referrersOf(first);
    const tail = await Promise.all(rest.map((s) => this.limiter.run(() => this.referrersOf(s))));
    return [head, ...tail];
  }

  private async referrersOf(subject: string): Promise<Array<Omit<Referrer, "depth">>> {
    const [listed, cosign] = await Promise.all([this.listed(subject), this.cosign(subject)]);
    return [...listed, ...cosign];
  }

  private call(): CallOptions {
    return this.opts.call ?? {};
  }

  private tagSet(): Promise<Set<string>> {
    this.known.tags ??= this.source.tagListAll
      ? onSide(this.source.tagListAll(this.call()), "source").then((t) => new Set(t))
      : Promise.resolve(new Set<string>());
    return this.known.tags;
  }

  /** The referrers API's list, or (without the API) the fallback tag's index. */
  private async listed(subject: string): Promise<Array<Omit<Referrer, "depth">>> {
    const artifactTypes = this.opts.artifactTypes;
    if (this.known.api !== false && this.source.referrersList) {
      const answer = await onSide(this.source.referrersList(subject, { ...this.call(), ...(artifactTypes ? { artifactTypes } : {}) }), "source");
      if (answer.supported) {
        this.known.api = true;
        return answer.descriptors.filter((d) => artifactTypeMatches(d, artifactTypes)).map((descriptor) => ({ subject, descriptor, via: "api" as const }));
      }
      this.known.api = false;
    }
    const tag = fallbackTag(subject);
    if (!(await this.tagSet()).has(tag)) return [];
    const index = await onSide(this.source.manifestGet(tag, this.call()), "source");
    if (index.manifest.kind !== "index") return [];
    return index.manifest.manifests
      .filter((d) => artifactTypeMatches(d, artifactTypes))
      .map((descriptor) => ({ subject, descriptor, via: "fallback" as const }));
  }

  /** cosign's tags for the subject, each read once (its artifact type is its first layer's media type). */
  private async cosign(subject: string): Promise<Array<Omit<Referrer, "depth">>> {
    const tags = await this.tagSet();
    const present = COSIGN_KINDS.map((k) => cosignTag(subject, k)).filter((t) => tags.has(t));
    const found = await Promise.all(
      present.map(async (tag) => {
        const raw = await onSide(this.source.manifestGet(tag, this.call()), "source");
        const m = raw.manifest;
        const layerType = m.kind === "manifest" ? m.layers[0]?.mediaType : undefined;
        const d = referrerDescriptor(raw);
        const descriptor = { ...d, ...(layerType ? { artifactType: layerType } : {}) };
        return { subject, descriptor, via: "cosign" as const, tag };
      }),
    );
    return found.filter((r) => artifactTypeMatches(r.descriptor, this.opts.artifactTypes));
  }
}
