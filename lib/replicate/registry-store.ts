/** A repository on a registry, as a source and a sink for the copy engine. */
import type { Readable } from "node:stream";
import { FerryError } from "../errors.ts";
import type { Descriptor, RawManifest } from "../oci/manifest.ts";
import { Repository } from "../oci/reference.ts";
import type { CallOptions, RegistryClient } from "../registry/client.ts";
import type { ImageSink, ImageSource, MountOutcome, ReferrersAnswer } from "./ports.ts";

export class RegistryStore implements ImageSource, ImageSink {
  readonly client: RegistryClient;
  readonly repository: string;

  constructor(client: RegistryClient, repository: string) {
    this.client = client;
    this.repository = repository;
  }

  get registryHost(): string {
    return this.client.host;
  }

  get name(): string {
    return `${this.client.host}/${this.repository}`;
  }

  address(ref: string): string {
    return new Repository(this.client.host, this.repository).address(ref);
  }

  manifestHead(ref: string, opts?: CallOptions): Promise<Descriptor | undefined> {
    return this.client.manifestHead(this.repository, ref, opts);
  }

  manifestGet(ref: string, opts?: CallOptions): Promise<RawManifest> {
    return this.client.manifestGet(this.repository, ref, opts);
  }

  blobGet(desc: Descriptor, opts?: CallOptions): Promise<Readable> {
    return this.client.blobGet(this.repository, desc, opts);
  }

  blobHead(digest: string, opts?: CallOptions): Promise<number | undefined> {
    return this.client.blobHead(this.repository, digest, opts);
  }

  async blobPut(desc: Descriptor, open: () => Promise<Readable>, opts?: CallOptions & { location?: string }): Promise<void> {
    await this.client.blobPut(this.repository, desc, open, opts);
  }

  manifestPut(ref: string, bytes: Buffer, mediaType: string, opts?: CallOptions): Promise<string> {
    return this.client.manifestPut(this.repository, ref, bytes, mediaType, opts);
  }

  manifestPutResult(ref: string, bytes: Buffer, mediaType: string, opts?: CallOptions): Promise<{ digest: string; subject?: string }> {
    return this.client.manifestPutResult(this.repository, ref, bytes, mediaType, opts);
  }

  tagListAll(opts?: CallOptions): Promise<string[]> {
    return this.client.tagListAll(this.repository, opts);
  }

  referrersList(digest: string, opts?: CallOptions & { artifactTypes?: string[] }): Promise<ReferrersAnswer> {
    return this.client.referrersList(this.repository, digest, opts);
  }

  async blobMount(digest: string, source: ImageSource, opts?: CallOptions): Promise<MountOutcome | undefined> {
    if (!(source instanceof RegistryStore) || source.client.host !== this.client.host || source.repository === this.repository) {
      return undefined;
    }
    return this.client.blobMount(this.repository, source.repository, digest, opts);
  }

  async blobMountKnown(digest: string, source: string, opts?: CallOptions): Promise<MountOutcome | undefined> {
    const places = this.client.blobLocations;
    const from = places.mountSource(digest, this.repository, source);
    if (from === undefined) return undefined;
    let m: MountOutcome;
    try {
      m = await this.client.blobMount(this.repository, from, digest, opts);
    } catch (e) {
      // An optional shortcut: whatever refused it (a token for `from`, a 5xx), HEAD and upload
      // may still work. Only running out of time or being cancelled ends the copy here.
      if (opts?.signal?.aborted || (e instanceof FerryError && (e.code === "DEADLINE" || e.code === "CANCELLED"))) throw e;
      m = { mounted: false };
    }
    if (m.mounted) places.mounted();
    else places.refused(digest, from);
    return m;
  }

  blobNoted(digest: string, source: string): void {
    this.client.blobLocations.note(digest, this.repository, source);
  }

  async blobUploadCancel(location: string): Promise<void> {
    await this.client.blobUploadCancel(location, this.repository);
  }
}
