/**
 * Pushing a Docker schema 1 image, and converting it to Docker schema 2 when it cannot stay as it
 * is. One rule, here: with `convertSchema1` the image is converted before anything is pushed;
 * without it, it is pushed verbatim (its layers first) and converted only when the destination
 * refuses the schema 1 manifest (manifests.ts `refusedType`: UNSUPPORTED on the destination side).
 *
 * Docker schema 2 rather than OCI: schema 1 is Docker's format and its layers are Docker gzip
 * blobs; schema 2 is its successor, the one containers/image and distribution convert to, and
 * every client that could pull schema 1 can pull it. The converted image has a new digest (the
 * tag carries over, digests do not): the result says `converted: "schema1"` and warns.
 */
import { createHash } from "node:crypto";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { FerryError, onSide } from "../errors.ts";
import { digestOf } from "../oci/digest.ts";
import { type Descriptor, parseManifest } from "../oci/manifest.ts";
import { DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST } from "../oci/media-types.ts";
import type { Schema1Manifest } from "../oci/schema1.ts";
import { planSchema1, schema1Config, schema2Manifest } from "../oci/schema1-convert.ts";
import type { CallOptions } from "../registry/client.ts";
import { type CopySession, DEFAULT_JOBS } from "./copy-session.ts";
import { Limiter } from "./limiter.ts";
import type { ImageSource } from "./ports.ts";
import type { SourceRoot } from "./root-plan.ts";

/**
 * Pushes a schema 1 root under `ref` (a tag, or its digest): verbatim when allowed and taken,
 * else converted. Resolves to the root pushed: `root` itself, or the converted one.
 */
export async function pushSchema1Root(session: CopySession, root: SourceRoot, ref: string | undefined): Promise<SourceRoot> {
  if (!session.opts.convertSchema1 && (await pushVerbatim(session, root, ref ?? root.digest))) return root;
  const converted = await convertSchema1(session.source, root, { ...session.callOptions(), jobs: session.opts.jobs ?? DEFAULT_JOBS });
  session.warn(
    `${session.source.address(root.sourceDigest)} is a Docker schema 1 image: converted to schema 2 as ${converted.digest}; the digest changes, only the tag carries over`,
  );
  const platform = converted.platforms[0] ?? "";
  for (const g of converted.generated ?? []) session.addGenerated(g.descriptor.digest, g.bytes);
  await session.copyReferenced(converted.manifest, platform);
  await session.putManifest(ref ?? converted.digest, converted.bytes, converted.mediaType, platform);
  return converted;
}

/** Copies the layers, then PUTs the schema 1 bytes; false when the destination refuses schema 1. */
async function pushVerbatim(session: CopySession, root: SourceRoot, ref: string): Promise<boolean> {
  const m = schema1Of(root);
  const platform = root.platforms[0] ?? "";
  const call = session.callOptions();
  const layers = await Promise.all([...new Set(m.fsLayers)].map((d) => layerDescriptor(session.source, d, call)));
  await Promise.all(layers.map((d) => session.copyBlob(d, platform)));
  try {
    await session.putManifest(ref, root.bytes, root.mediaType, platform);
    return true;
  } catch (e) {
    if (!(e instanceof FerryError && e.code === "UNSUPPORTED" && e.side === "destination")) throw e;
    session.warn(`${session.sink.name} refuses Docker schema 1 manifests (${e.message}); converting to schema 2`);
    return false;
  }
}

/**
 * Converts a schema 1 root to a Docker schema 2 image: every distinct layer is read once from the
 * source, streamed through gunzip and hashed for its diff_id (never buffered); the config is
 * synthesised (a generated blob, pushed from memory). Reads, never writes.
 */
export async function convertSchema1(source: ImageSource, root: SourceRoot, opts: CallOptions & { jobs?: number } = {}): Promise<SourceRoot> {
  const plan = planSchema1(schema1Of(root));
  const call: CallOptions = { ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.deadline ? { deadline: opts.deadline } : {}) };
  const limiter = new Limiter(opts.jobs ?? DEFAULT_JOBS);
  const measured = new Map<string, { layer: Descriptor; diffId: string }>();
  await Promise.all(
    [...new Set(plan.layers)].map((d) =>
      limiter.run(async () => {
        const layer = await layerDescriptor(source, d, call);
        measured.set(d, { layer, diffId: await diffIdOf(source, layer, call) });
      }),
    ),
  );
  const at = (d: string) => measured.get(d) as { layer: Descriptor; diffId: string };
  const configBytes = schema1Config(
    plan,
    plan.layers.map((d) => at(d).diffId),
  );
  const config: Descriptor = { mediaType: DOCKER_CONFIG, digest: digestOf(configBytes), size: configBytes.byteLength };
  const bytes = schema2Manifest(
    config,
    plan.layers.map((d) => at(d).layer),
  );
  const raw = parseManifest(bytes, DOCKER_MANIFEST);
  return {
    bytes,
    digest: raw.digest,
    mediaType: DOCKER_MANIFEST,
    rebuilt: true,
    sourceDigest: root.sourceDigest,
    children: undefined,
    platforms: root.platforms,
    manifest: raw.manifest,
    generated: [{ descriptor: config, bytes: configBytes }],
    converted: "schema1",
  };
}

/** A schema 1 layer as a schema 2 descriptor; schema 1 has no sizes, so the source is asked. */
async function layerDescriptor(source: ImageSource, digest: string, call: CallOptions): Promise<Descriptor> {
  const size = await onSide(source.blobHead(digest, call), "source");
  if (size === undefined) throw new FerryError("NOT_FOUND", `${source.address(digest)}: layer of the schema 1 image not found`, { side: "source" });
  return { mediaType: DOCKER_LAYER_GZIP, digest, size };
}

/** sha256 of the layer gunzipped, streamed from the source (whose digest and size are verified on the way). */
async function diffIdOf(source: ImageSource, layer: Descriptor, call: CallOptions): Promise<string> {
  const hash = createHash("sha256");
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb();
    },
  });
  const stream = await onSide(source.blobGet(layer, call), "source");
  try {
    await pipeline(stream, createGunzip(), sink);
  } catch (e) {
    if (e instanceof FerryError) throw e;
    throw new FerryError("UNSUPPORTED", `${source.address(layer.digest)}: layer is not gzip (${(e as Error).message}); cannot compute its diff_id`, {
      side: "source",
      cause: e,
    });
  }
  return `sha256:${hash.digest("hex")}`;
}

function schema1Of(root: SourceRoot): Schema1Manifest {
  if (root.manifest.kind !== "schema1") throw new FerryError("INTERNAL", `${root.digest} is not a schema 1 manifest`);
  return root.manifest;
}
