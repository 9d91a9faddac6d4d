/**
 * The small ports the copy engine sees: a source of manifests and blobs, and a sink that stores
 * them (and may mount). A registry repository and an OCI image layout directory plug in alike.
 */
import type { Readable } from "node:stream";
import type { Descriptor, RawManifest } from "../oci/manifest.ts";
import type { CallOptions } from "../registry/client.ts";

/** A referrers listing: the registry's referrers API answered (`supported`), with what it listed, or not. */
export interface ReferrersAnswer {
  supported: boolean;
  descriptors: Descriptor[];
}

/** Where manifests and blobs come from. */
export interface ImageSource {
  /** Human-readable location for messages: `host/repo` or `oci:/path`. */
  readonly name: string;
  manifestHead(ref: string, opts?: CallOptions): Promise<Descriptor | undefined>;
  manifestGet(ref: string, opts?: CallOptions): Promise<RawManifest>;
  /** A verified stream of the blob's bytes (size and digest checked while streaming). */
  blobGet(desc: Descriptor, opts?: CallOptions): Promise<Readable>;
  /** Size of the blob, or undefined when this source does not hold it. */
  blobHead(digest: string, opts?: CallOptions): Promise<number | undefined>;
  /** `name:tag` and `name@digest` forms, for messages and results. */
  address(ref: string): string;
  /** Every tag of the repository: referrers fallback and cosign tags are found among them. */
  tagListAll?(opts?: CallOptions): Promise<string[]>;
  /** The referrers API's answer for `digest` (filtered to `artifactTypes` when given). */
  referrersList?(digest: string, opts?: CallOptions & { artifactTypes?: string[] }): Promise<ReferrersAnswer>;
}

/** Result of asking a sink to mount a blob from another repository of the same registry. */
export type MountOutcome = { mounted: true } | { mounted: false; location?: string };

/** Where manifests and blobs go. */
export interface ImageSink {
  readonly name: string;
  manifestHead(ref: string, opts?: CallOptions): Promise<Descriptor | undefined>;
  manifestGet(ref: string, opts?: CallOptions): Promise<RawManifest>;
  blobHead(digest: string, opts?: CallOptions): Promise<number | undefined>;
  /** Stores a blob from a body that can be opened again for a retry; verified before commit. */
  blobPut(desc: Descriptor, open: () => Promise<Readable>, opts?: CallOptions & { location?: string }): Promise<void>;
  /** Stores manifest bytes verbatim under a tag or digest; returns the digest. */
  manifestPut(ref: string, bytes: Buffer, mediaType: string, opts?: CallOptions): Promise<string>;
  /**
   * Mounts the blob from a repository of this registry where this process put it, copied from
   * `source` (a source's name); undefined when it knows no such place.
   */
  blobMountKnown?(digest: string, source: string, opts?: CallOptions): Promise<MountOutcome | undefined>;
  /** Records that this repository now holds `digest`, copied (or mounted) from `source`. */
  blobNoted?(digest: string, source: string): void;
  /** Cancels an upload session a refused mount opened and nothing used. */
  blobUploadCancel?(location: string): Promise<void>;
  /** Mounts a blob from `source` when both are on the same registry; undefined when impossible. */
  blobMount?(digest: string, source: ImageSource, opts?: CallOptions): Promise<MountOutcome | undefined>;
  /** `name:tag` and `name@digest` forms for the result. */
  address(ref: string): string;
  /** The registry host, for a registry repository: destinations on one registry share blobs by mounting. */
  readonly registryHost?: string;
  /** The repository path within that registry. */
  readonly repository?: string;
  /** The referrers API's answer for `digest`: whether this sink keeps referrers lists itself. */
  referrersList?(digest: string, opts?: CallOptions & { artifactTypes?: string[] }): Promise<ReferrersAnswer>;
  /** What a person should know before `ref` is written with this media type (tools that will not read it), if anything. */
  manifestPutWarning?(ref: string, mediaType: string): string | undefined;
  /** A manifest PUT that also says whether the registry processed its `subject` (the `OCI-Subject` answer). */
  manifestPutResult?(ref: string, bytes: Buffer, mediaType: string, opts?: CallOptions): Promise<{ digest: string; subject?: string }>;
}
