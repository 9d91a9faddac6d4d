/**
 * Resumable blob copies across invocations (issue 14) against the fake registry: a 64 MiB blob
 * whose deadline comes mid-blob stops with RESUMABLE and a saved record; the next call resumes
 * from the committed offset (a Range GET at the source, PATCHes from there); a forgotten session
 * starts over from 0; a corrupted resumed stream fails with DIGEST_MISMATCH before any commit.
 * The source serves the blob at a paced rate so that the deadline falls inside it.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { after, before, beforeEach, describe, it } from "node:test";
import { parseConfig } from "../../lib/config.ts";
import { FerryError } from "../../lib/errors.ts";
import { runCopyTask } from "../../lib/pipeline/copy-task.ts";
import { type PipelineDeps, silentLog } from "../../lib/pipeline/deps.ts";
import { planJob } from "../../lib/pipeline/plan.ts";
import { poolFromConfig } from "../../lib/pipeline/registries.ts";
import { type AnyMessage, type CopyMessage, CopyMessageSchema, type QueueName, type QueuePort } from "../../lib/queue/messages.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { blobCopyResumable, type ResumeBook } from "../../lib/registry/resumable-copy.ts";
import { MemoryJobStore } from "../../lib/state/memory.ts";
import { type FakeRegistry, startFakeRegistry } from "../fakes/registry.ts";
import { bytesBlob, configBlob, imageManifest, pushImage } from "../helpers/images.ts";

const SIZE = 64 * 1024 * 1024;
const CHUNK = 4 * 1024 * 1024;
const blob = randomBytes(SIZE);
const digest = `sha256:${createHash("sha256").update(blob).digest("hex")}`;
const desc = { digest, size: SIZE };

/** Serves the source blob 1 MiB every 10 ms from the Range start (flipping one byte past it when `corrupt`). */
const paced = { corrupt: false };
async function slowBlob(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  if (req.method !== "GET" || !req.url?.includes(`/blobs/${digest}`)) return false;
  const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? "")?.[1] ?? 0);
  let body = blob.subarray(start);
  if (paced.corrupt) {
    body = Buffer.from(body);
    body[body.byteLength - 1] = (body[body.byteLength - 1] ?? 0) ^ 0xff;
  }
  res.writeHead(start > 0 ? 206 : 200, {
    "content-length": String(body.byteLength),
    "docker-content-digest": digest,
    ...(start > 0 ? { "content-range": `bytes ${start}-${SIZE - 1}/${SIZE}` } : {}),
  });
  for (let at = 0; at < body.byteLength && !res.destroyed; at += 1024 * 1024) {
    res.write(body.subarray(at, at + 1024 * 1024));
    await new Promise((r) => setTimeout(r, 10));
  }
  res.end();
  return true;
}

const rejectsWith = async (p: Promise<unknown>, code: string) => {
  await assert.rejects(p, (e: unknown) => e instanceof FerryError && e.code === code);
};

describe("resumable blob copies", () => {
  let src: FakeRegistry;
  let dst: FakeRegistry;
  let srcClient: RegistryClient;
  let dstClient: RegistryClient;
  let store: MemoryJobStore;
  const key = "job/t0/blob";
  const book = (): ResumeBook => ({ get: () => store.getUpload(key), save: (p) => store.saveUpload(key, p), drop: () => store.dropUpload(key) });
  const copy = (deadlineInMs: number) =>
    blobCopyResumable({ ep: srcClient, repo: "src" }, { ep: dstClient, repo: "dst" }, desc, book(), {
      deadline: Date.now() + deadlineInMs,
      reserveMs: 100,
      chunkSize: CHUNK,
    });
  /** The Content-Range starts of the destination's PATCHes from request `from` on. */
  const patchStarts = (from: number) =>
    dst.requests
      .slice(from)
      .filter((r) => r.method === "PATCH")
      .map((r) => Number(String(r.headers["content-range"]).split("-")[0]));

  before(async () => {
    src = await startFakeRegistry({ hook: slowBlob });
    dst = await startFakeRegistry();
    src.putBlob("src", blob);
    srcClient = new RegistryClient({ host: src.host, side: "source", retry: { baseDelayMs: 10 } });
    dstClient = new RegistryClient({ host: dst.host, side: "destination", retry: { baseDelayMs: 10 } });
  });
  beforeEach(() => {
    store = new MemoryJobStore();
    paced.corrupt = false;
    dst.blobs.clear();
    dst.repoBlobs.clear();
  });
  after(async () => {
    await Promise.all([srcClient.close(), dstClient.close()]);
    await Promise.all([src.stop(), dst.stop()]);
  });

  it("stops before the deadline with RESUMABLE and a saved record, then resumes from the committed offset and commits the right digest", async () => {
    await rejectsWith(copy(500), "RESUMABLE");
    const rec = await store.getUpload(key);
    assert.ok(rec, "a record was saved");
    assert.ok(rec.offset > 0 && rec.offset < SIZE, `stopped mid-blob at ${rec.offset}`);
    assert.equal(rec.offset % CHUNK, 0, "at a chunk boundary the registry confirmed");
    assert.equal([...dst.uploads.values()][0]?.size, rec.offset, "the session holds what the record says");
    assert.equal(dst.count("GET", /\/blobs\/uploads\//), 1, "the offset was confirmed with the upload status");

    const srcFrom = src.requests.length;
    const dstFrom = dst.requests.length;
    await copy(60_000);
    const gets = src.requests.slice(srcFrom).filter((r) => r.method === "GET" && r.url.includes("/blobs/sha256:"));
    assert.deepEqual(
      gets.map((r) => r.headers.range),
      [`bytes=${rec.offset}-`],
      "one ranged GET from the offset",
    );
    const starts = patchStarts(dstFrom);
    assert.equal(starts[0], rec.offset, "PATCHes go on from the offset, not from 0");
    assert.ok(!starts.includes(0));
    assert.equal(dst.count("POST", /\/blobs\/uploads\/$/), 1, "the same session: no new one was opened");
    assert.ok(dst.blobs.get(digest)?.equals(blob), "the destination holds the source's bytes");
    assert.equal(await store.getUpload(key), undefined, "the record is dropped once committed");
  });

  it("starts over from 0 when the registry has forgotten the session", async () => {
    await rejectsWith(copy(400), "RESUMABLE");
    assert.ok((await store.getUpload(key))?.offset);
    dst.uploads.clear(); // purged: the status GET answers 404 BLOB_UPLOAD_UNKNOWN
    const srcFrom = src.requests.length;
    const dstFrom = dst.requests.length;
    await copy(60_000);
    const gets = src.requests.slice(srcFrom).filter((r) => r.method === "GET" && r.url.includes("/blobs/sha256:"));
    assert.deepEqual(
      gets.map((r) => r.headers.range),
      [undefined],
      "read again from the start",
    );
    assert.equal(patchStarts(dstFrom)[0], 0);
    assert.ok(dst.blobs.get(digest)?.equals(blob));
    assert.equal(await store.getUpload(key), undefined);
  });

  it("fails a corrupted resumed stream with DIGEST_MISMATCH before the commit", async () => {
    await rejectsWith(copy(400), "RESUMABLE");
    paced.corrupt = true;
    const dstFrom = dst.requests.length;
    await rejectsWith(copy(60_000), "DIGEST_MISMATCH");
    assert.equal(dst.requests.slice(dstFrom).filter((r) => r.method === "PUT").length, 0, "nothing was committed");
    assert.equal(dst.blobs.has(digest), false);
    assert.equal(await store.getUpload(key), undefined, "nothing left to resume onto");
  });
});

/** Queues that keep what was sent (copy messages parsed back as a worker would). */
class KeptQueues implements QueuePort {
  readonly sent: Array<{ queue: QueueName; body: string }> = [];
  async send(queue: QueueName, messages: AnyMessage[]): Promise<void> {
    this.sent.push(...messages.map((m) => ({ queue, body: JSON.stringify(m) })));
  }
  async backlog(): Promise<number> {
    return 0;
  }
  async retryLater(): Promise<void> {}
  take(queue: QueueName): CopyMessage[] {
    const out = this.sent.filter((m) => m.queue === queue).map((m) => CopyMessageSchema.parse(JSON.parse(m.body)));
    this.sent.splice(0);
    return out;
  }
}

describe("a pipeline copy task with a blob above the resumable threshold", () => {
  let src: FakeRegistry;
  let dst: FakeRegistry;
  const layer = bytesBlob(blob, "application/vnd.oci.image.layer.v1.tar+gzip");
  const image = imageManifest({ config: configBlob({ os: "linux", architecture: "amd64" }, "oci", "resumable", 1), layers: [layer] });
  const settings = { resumeAboveBytes: 16 * 1024 * 1024, reserveMs: 100, chunkSize: CHUNK };

  before(async () => {
    paced.corrupt = false;
    src = await startFakeRegistry({ hook: slowBlob });
    dst = await startFakeRegistry();
    const c = new RegistryClient({ host: src.host });
    await pushImage(c, "app", "v1", image);
    await c.close();
  });
  after(async () => {
    await Promise.all([src.stop(), dst.stop()]);
  });

  it("ends a delivery whose deadline comes mid-blob with RESUMABLE and a record; the next delivery resumes it and the task is done", async () => {
    const config = parseConfig({ version: 1 });
    const queues = new KeptQueues();
    const store = new MemoryJobStore();
    const deps: PipelineDeps = { config, store, queues, registries: poolFromConfig(config), log: silentLog };
    assert.ok(
      await store.createJob({
        id: "j1",
        request: { source: `${src.host}/app:v1`, destinations: [`${dst.host}/app`], trigger: "api", eventTime: new Date().toISOString() },
      }),
    );
    await planJob(deps, "j1", { receiveCount: 1, maxReceiveCount: 3 });
    const [msg] = queues.take("copy");
    assert.ok(msg);
    const key = `j1/${msg.taskId}/${digest}`;

    await rejectsWith(runCopyTask(deps, msg, { receiveCount: 1, maxReceiveCount: 3, deadline: Date.now() + 500 }, settings), "RESUMABLE");
    const rec = await store.getUpload(key);
    assert.ok(rec && rec.offset > 0 && rec.offset < SIZE, `a record mid-blob: ${rec?.offset}`);
    assert.equal((await store.getJob("j1", { withTasks: true }))?.tasks?.[0]?.state, "pending");

    // The last delivery pauses again: a fresh message carries the work on instead of the DLQ.
    const last = await runCopyTask(deps, msg, { receiveCount: 3, maxReceiveCount: 3, deadline: Date.now() + 400 }, settings);
    assert.equal(last.outcome, "paused");
    const [again] = queues.take("copy");
    assert.equal(again?.taskId, msg.taskId);
    const further = (await store.getUpload(key))?.offset ?? 0;
    assert.ok(further > rec.offset, `it moved on: ${rec.offset} → ${further}`);

    const from = src.requests.length;
    const done = await runCopyTask(deps, msg, { receiveCount: 1, maxReceiveCount: 3, deadline: Date.now() + 60_000 }, settings);
    assert.equal(done.outcome, "done", JSON.stringify((await store.getJob("j1", { withTasks: true }))?.tasks?.[0]?.error));
    const ranges = src.requests
      .slice(from)
      .filter((r) => r.url.includes(`/blobs/${digest}`) && r.method === "GET")
      .map((r) => r.headers.range);
    assert.deepEqual(ranges, [`bytes=${further}-`]);
    assert.ok(dst.blobs.get(digest)?.equals(blob));
    assert.equal(await store.getUpload(key), undefined);
    assert.equal((await store.getJob("j1"))?.done.length, 1);
  });
});
