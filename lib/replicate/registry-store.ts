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

  async blobHead(digest: string, opts?: CallOptions): Promise<number | undefined> {
    const size = await this.client.blobHead(this.repository, digest, opts);
    if (size !== undefined) this.client.blobLocations.note(digest, this.repository);
    return size;
  }

  async blobPut(desc: Descriptor, open: () => Promise<Readable>, opts?: CallOptions & { location?: string }): Promise<void> {
    await this.client.blobPut(this.repository, desc, open, opts);
    this.client.blobLocations.note(desc.digest, this.repository);
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
    return this.mounted(digest, await this.client.blobMount(this.repository, source.repository, digest, opts));
  }

  async blobMountKnown(digest: string, opts?: CallOptions): Promise<MountOutcome | undefined> {
    const from = this.client.blobLocations.get(digest);
    if (from === undefined || from === this.repository) return undefined;
    let m: MountOutcome;
    try {
      m = await this.client.blobMount(this.repository, from, digest, opts);
    } catch (e) {
      // A token for reading `from` refused: that place is not ours to mount from; go on without it.
      if (!(e instanceof FerryError && e.code === "AUTH")) throw e;
      m = { mounted: false };
    }
    if (!m.mounted) this.client.blobLocations.forget(digest, from);
    return this.mounted(digest, m);
  }

  private mounted(digest: string, m: MountOutcome): MountOutcome {
    if (m.mounted) this.client.blobLocations.note(digest, this.repository);
    return m;
  }
}
