/**
 * The root-planning table, written once: each case is a source image, what the destination tag
 * holds before, the options, and the decision expected. The planner's unit test runs it on OCI
 * layouts; the CLI-versus-pipeline test runs it through `ferry copy`'s engine and `ferry serve`.
 */
import { parseManifest, type Platform } from "../../lib/oci/manifest.ts";
import { filterIndex } from "../../lib/replicate/index-build.ts";
import { formatPlatform } from "../../lib/oci/platform.ts";
import { imageIndex, type ManifestSpec, PLATFORMS, randomImage, randomIndex } from "./images.ts";

export interface RootPlanCase {
  name: string;
  source: ManifestSpec;
  /** What the destination tag holds before the copy, if anything. */
  before?: ManifestSpec;
  platforms?: string[];
  merge?: boolean;
  expect:
    | {
        /** The platforms listed in the root pushed (index entries; attestations as unknown/unknown). */
        rootPlatforms?: string[];
        /** The root pushed is the source's bytes. */
        verbatim: boolean;
        upToDate: boolean;
        /** Manifests copied from the source (index entries after the filter), or undefined for a single image. */
        children?: number;
        warning?: RegExp;
      }
    | { error: string };
}

const [amd64, arm64, armv7, s390x] = PLATFORMS as [
  (typeof PLATFORMS)[number],
  (typeof PLATFORMS)[number],
  (typeof PLATFORMS)[number],
  (typeof PLATFORMS)[number],
];

/** Entry platforms of an index's bytes, in order. */
export function entryPlatforms(bytes: Buffer): string[] {
  const m = parseManifest(bytes).manifest;
  return m.kind === "index" ? m.manifests.map((d) => (d.platform ? formatPlatform(d.platform) : "none")) : [];
}

/** What the planner's filter makes of `index` for one platform, as an image a destination can hold. */
function filtered(index: ManifestSpec, platform: Platform): ManifestSpec {
  const plan = filterIndex(parseManifest(index.bytes), [platform]);
  const children = index.children.filter((c) => plan.fromSource.some((d) => d.digest === c.digest));
  return { bytes: plan.bytes, digest: plan.digest, mediaType: plan.mediaType, blobs: [], children };
}

export function rootPlanCases(seed = "rp"): RootPlanCase[] {
  const index = randomIndex({ platforms: [amd64, arm64], seed, layers: 1, layerSize: 64 });
  const withAttestations = randomIndex({ platforms: [amd64, arm64], attestations: true, seed: `${seed}-att`, layers: 1, layerSize: 64 });
  const single = randomImage({ platform: arm64, seed: `${seed}-single`, layers: 1, layerSize: 64 });
  const other = randomIndex({ platforms: [s390x, amd64], seed: `${seed}-dst`, layers: 1, layerSize: 64 });
  const nested = imageIndex({
    entries: [{ manifest: randomImage({ platform: amd64, seed: `${seed}-n`, layers: 1, layerSize: 64 }), platform: amd64 }, { manifest: index }],
  });
  return [
    { name: "verbatim index", source: index, expect: { rootPlatforms: ["linux/amd64", "linux/arm64/v8"], verbatim: true, upToDate: false, children: 2 } },
    {
      name: "filtered index",
      source: index,
      platforms: ["linux/arm64"],
      expect: { rootPlatforms: ["linux/arm64/v8"], verbatim: false, upToDate: false, children: 1 },
    },
    {
      name: "merged with the destination's platforms",
      source: index,
      before: other,
      merge: true,
      expect: { rootPlatforms: ["linux/amd64", "linux/arm64/v8", "linux/s390x"], verbatim: false, upToDate: false, children: 2 },
    },
    {
      name: "merge replaces a destination that is not an index",
      source: index,
      before: single,
      merge: true,
      expect: { verbatim: true, upToDate: false, children: 2, warning: /replaced, not merged/ },
    },
    { name: "single image", source: single, expect: { verbatim: true, upToDate: false } },
    {
      name: "single image over a tag with merge",
      source: single,
      before: other,
      merge: true,
      expect: { verbatim: true, upToDate: false, warning: /nothing to merge/ },
    },
    { name: "single image of another platform", source: single, platforms: ["linux/amd64"], expect: { error: "PLATFORM_MISMATCH" } },
    { name: "index without the wanted platform", source: index, platforms: [formatPlatform(armv7)], expect: { error: "PLATFORM_MISMATCH" } },
    {
      name: "attestations follow their platform",
      source: withAttestations,
      platforms: ["linux/amd64"],
      expect: { rootPlatforms: ["linux/amd64", "unknown/unknown"], verbatim: false, upToDate: false, children: 2 },
    },
    {
      name: "nested index kept under a filter",
      source: nested,
      platforms: ["linux/amd64"],
      expect: { rootPlatforms: ["linux/amd64", "none"], verbatim: true, upToDate: false, children: 2 },
    },
    { name: "up to date", source: index, before: index, expect: { verbatim: true, upToDate: true, children: 2 } },
    {
      name: "up to date after the filter",
      source: index,
      before: filtered(index, amd64),
      platforms: ["linux/amd64"],
      expect: { rootPlatforms: ["linux/amd64"], verbatim: false, upToDate: true, children: 1 },
    },
  ];
}
