/**
 * One source, many destinations: every manifest of the tree is read once (cached), and each blob
 * is read from the source once and streamed to every destination that needs it at the same time
 * (a mount where a destination shares the source's registry). Manifests, referrers and tags then
 * go to each destination in the usual order.
 */
import { PassThrough, type Readable } from "node:stream";
import { onSide } from "../errors.ts";
import { isDigest } from "../oci/digest.ts";
import { formatPlatform } from "../oci/platform.ts";
import type { Descriptor, RawManifest } from "../oci/manifest.ts";
import type { CallOptions } from "../registry/client.ts";
import type { CopySession } from "./copy-session.ts";
import { Limiter } from "./limiter.ts";
import type { ImageSource } from "./ports.ts";

/** `source` with manifest reads by digest remembered: a tree is read once whatever the destinations. */
export function cachingSource(source: ImageSource): ImageSource {
  const seen = new Map<string, Promise<RawManifest>>();
  const get = source.manifestGet.bind(source);
  return Object.assign(Object.create(source) as ImageSource, {
    manifestGet(ref: string, opts?: CallOptions): Promise<RawManifest> {
      if (!isDigest(ref)) return get(ref, opts);
      let p = seen.get(ref);
      if (!p) {
        p = get(ref, opts);
        p.catch(() => seen.delete(ref));
        seen.set(ref, p);
      }
      return p;
    },
  });
}

/** Every blob under `manifests` (by digest, once each), with the platform label of the first manifest naming it; a level at a time. */
export async function blobsUnder(source: ImageSource, manifests: Array<{ desc: Descriptor; label: string }>, call: CallOptions) {
  const blobs = new Map<string, { desc: Descriptor; label: string }>();
  const seen = new Set<string>();
  let level = manifests;
  while (level.length > 0) {
    const fresh = level.filter((x) => !seen.has(x.desc.digest) && seen.add(x.desc.digest));
    const raws = await Promise.all(fresh.map((x) => onSide(source.manifestGet(x.desc.digest, call), "source")));
    level = [];
    raws.forEach((raw, i) => {
      const m = raw.manifest;
      const label = (fresh[i] as (typeof fresh)[number]).label;
      if (m.kind === "index") level.push(...m.manifests.map((desc) => ({ desc, label: desc.platform ? formatPlatform(desc.platform) : label })));
      const list = m.kind === "manifest" ? [m.config, ...m.layers] : m.kind === "artifact" ? m.blobs : [];
      for (const desc of list) if (!blobs.has(desc.digest)) blobs.set(desc.digest, { desc, label });
    });
  }
  return [...blobs.values()];
}

/**
 * Copies each blob into every session that needs it, reading the source once per blob: the
 * source stream is piped to one pass-through per destination (the slowest sets the pace), and a
 * second destination on one registry mounts from the first. A destination whose upload is
 * retried reads the source again on its own. Never rejects: each session's outcome for each blob
 * is handed to it (`adoptBlob`), so a failing destination fails alone when it uses the blob.
 */
export async function fanOutBlobs(sessions: CopySession[], blobs: Array<{ desc: Descriptor; label: string }>, jobs: number): Promise<void> {
  const limiter = new Limiter(jobs);
  await Promise.all(
    blobs.map(async ({ desc, label }) => {
      const outcomes = sessions.map((s) => {
        const d = deferred();
        s.adoptBlob(desc.digest, d.promise);
        return d;
      });
      try {
        await limiter.run(() => fanOutBlob(sessions, desc, label, outcomes));
      } catch (e) {
        for (const o of outcomes) o.reject(e);
      }
    }),
  );
}

type Deferred = { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void };

function deferred(): Deferred {
  let resolve = () => {};
  let reject: (e: unknown) => void = () => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // observed by the session that uses the blob, if it does
  return { promise, resolve, reject };
}

async function fanOutBlob(sessions: CopySession[], desc: Descriptor, label: string, outcomes: Deferred[]): Promise<void> {
  const needs = await Promise.allSettled(sessions.map((s) => s.prepareBlob(desc, label)));
  const uploaders: Array<{ session: CopySession; location: string | undefined; outcome: Deferred }> = [];
  needs.forEach((n, i) => {
    const outcome = outcomes[i] as Deferred;
    if (n.status === "rejected") outcome.reject(n.reason);
    else if (n.value.upload) uploaders.push({ session: sessions[i] as CopySession, location: n.value.location, outcome });
    else outcome.resolve();
  });
  if (uploaders.length === 0) return;
  const first = sessions[0] as CopySession;
  // One upload per registry: the other destinations on it mount from the one that got it.
  const hostOf = (u: (typeof uploaders)[number]) => u.session.sink.registryHost;
  const leaders = uploaders.filter((u, i) => !hostOf(u) || uploaders.findIndex((x) => hostOf(x) === hostOf(u)) === i);
  const led = await teeUpload(first.source, desc, label, leaders, first.callOptions());
  await Promise.all(
    uploaders.map(async (u) => {
      try {
        const leader = leaders.find((l) => hostOf(l) === hostOf(u)) as (typeof leaders)[number];
        if (leaders.includes(u)) {
          const r = led.get(u);
          if (r?.status === "rejected") throw r.reason;
        } else if (led.get(leader)?.status !== "fulfilled" || !(await u.session.mountFrom(desc, leader.session.sink as unknown as ImageSource, label))) {
          await u.session.uploadBlob(desc, label, undefined, u.location);
        }
        u.outcome.resolve();
      } catch (e) {
        u.outcome.reject(e);
      }
    }),
  );
}

async function teeUpload<U extends { session: CopySession; location: string | undefined }>(
  source: ImageSource,
  desc: Descriptor,
  label: string,
  uploaders: U[],
  call: CallOptions,
): Promise<Map<U, PromiseSettledResult<void>>> {
  const settle = async (runs: Array<Promise<void>>) => new Map((await Promise.allSettled(runs)).map((r, i) => [uploaders[i] as U, r] as const));
  if (uploaders.length === 1) {
    const { session, location } = uploaders[0] as U;
    return settle([session.uploadBlob(desc, label, undefined, location)]);
  }
  let shared: Readable;
  try {
    shared = await onSide(source.blobGet(desc, call), "source");
  } catch (e) {
    return settle(uploaders.map(() => Promise.reject(e)));
  }
  const outs = uploaders.map(() => new PassThrough({ highWaterMark: 1 << 20 }));
  shared.on("error", (e) => {
    for (const o of outs) o.destroy(e);
  });
  for (const o of outs) shared.pipe(o);
  try {
    return await settle(
      uploaders.map(({ session, location }, i) => {
        const own = outs[i] as PassThrough;
        let used = false;
        const open = async (): Promise<Readable> => {
          if (!used) {
            used = true;
            return own;
          }
          // A retry: this destination reads on its own; the shared read must not wait for it.
          shared.unpipe(own);
          own.resume();
          return onSide(source.blobGet(desc, call), "source");
        };
        return session.uploadBlob(desc, label, open, location).catch((e: unknown) => {
          shared.unpipe(own);
          own.resume();
          throw e;
        });
      }),
    );
  } finally {
    shared.destroy();
  }
}
