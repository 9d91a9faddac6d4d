/**
 * The pipeline's use-cases (plan → copy tasks → merge) run directly on the in-memory job store,
 * with an in-memory queue that carries each message through JSON and its schema as SQS would,
 * against a real distribution registry. No pollers, no timing: each step is driven by hand.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../lib/config.ts";
import { parseManifest } from "../../lib/oci/manifest.ts";
import { runCopyTask } from "../../lib/pipeline/copy-task.ts";
import { type PipelineDeps, silentLog } from "../../lib/pipeline/deps.ts";
import { runMerge } from "../../lib/pipeline/merge.ts";
import { planJob } from "../../lib/pipeline/plan.ts";
import { poolFromConfig } from "../../lib/pipeline/registries.ts";
import {
  type AnyMessage,
  type CopyMessage,
  CopyMessageSchema,
  type MergeMessage,
  MergeMessageSchema,
  type QueueName,
  type QueuePort,
  type ReplicationRequest,
} from "../../lib/queue/messages.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { MemoryJobStore } from "../../lib/state/memory.ts";
import { type Distribution, startDistribution } from "../helpers/distribution.ts";
import { pushImage, randomImage, randomIndex } from "../helpers/images.ts";
import { entryPlatforms } from "../helpers/root-plan-cases.ts";

/** Queues in memory; what is sent is serialized and parsed back, as SQS and the handlers do. */
class MemoryQueues implements QueuePort {
  readonly waiting: Record<QueueName, string[]> = { plan: [], copy: [], merge: [] };
  async send(queue: QueueName, messages: AnyMessage[]): Promise<void> {
    this.waiting[queue].push(...messages.map((m) => JSON.stringify(m)));
  }
  async backlog(queue: QueueName): Promise<number> {
    return this.waiting[queue].length;
  }
  async retryLater(): Promise<void> {}
  take(queue: "copy"): CopyMessage[];
  take(queue: "merge"): MergeMessage[];
  take(queue: "copy" | "merge"): Array<CopyMessage | MergeMessage> {
    const bodies = this.waiting[queue].splice(0);
    return bodies.map((b) => (queue === "copy" ? CopyMessageSchema : MergeMessageSchema).parse(JSON.parse(b)));
  }
}

let reg: Distribution;
let client: RegistryClient;
const image = randomIndex({ platforms: 3, seed: "use-cases", layers: 1, layerSize: 256 });
const once = { receiveCount: 1, maxReceiveCount: 3 };

before(async () => {
  reg = await startDistribution();
  client = new RegistryClient({ host: reg.host });
  await pushImage(client, "app", "v1", image);
});
after(async () => {
  await client?.close();
  await reg?.stop();
});

function harness(settings: Record<string, unknown> = {}) {
  const config = parseConfig({ version: 1, ...settings });
  const queues = new MemoryQueues();
  const store = new MemoryJobStore();
  const deps: PipelineDeps = { config, store, queues, registries: poolFromConfig(config), log: silentLog };
  let n = 0;
  /** Accepts a request, runs plan, every copy task (twice each: a duplicate delivery; `alter` may change them first), then merge. */
  const replicate = async (request: Omit<ReplicationRequest, "trigger" | "eventTime">, alter = (m: CopyMessage[]) => m) => {
    const id = `job-${++n}`;
    assert.ok(await store.createJob({ id, request: { ...request, trigger: "api", eventTime: new Date().toISOString() } }));
    const planned = await planJob(deps, id, once);
    const copies = alter(queues.take("copy"));
    for (const m of [...copies, ...copies]) await runCopyTask(deps, m, once);
    const merges = queues.take("merge");
    const merged = [];
    for (const [i, m] of merges.entries()) merged.push(await runMerge(deps, m, `merge-${id}-${i}`, once));
    return { planned, copies, merged, job: await store.getJob(id, { withTasks: true }) };
  };
  return { replicate, store };
}

describe("pipeline use-cases on the in-memory store", () => {
  it("plan fans out one task per platform and destination; one merge moves both tags", async () => {
    const { replicate } = harness();
    const r = await replicate({ source: `${reg.host}/app:v1`, destinations: [`${reg.host}/one/app`, `${reg.host}/two/app`] });
    assert.equal(r.planned, "planned");
    assert.equal(r.copies.length, 6);
    assert.equal(r.copies[0]?.source.toString(), `${reg.host}/app`, "the message's repository arrives as a value");
    // The winning task's duplicate delivery may send the merge again; only one merge acts.
    assert.equal(r.merged.filter((x) => x === "succeeded").length, 1);
    assert.ok(r.merged.slice(1).every((x) => x === undefined));
    assert.equal(r.job?.status, "succeeded");
    for (const repo of ["one/app", "two/app"]) assert.equal((await client.manifestHead(repo, "v1"))?.digest, image.digest);
  });

  it("copy messages carry the child manifests plan read; bytes that are not the digest's are ignored and read again", async () => {
    const { replicate } = harness();
    const children = parseManifest(image.bytes).manifest;
    assert.equal(children.kind, "index");
    const r = await replicate({ source: `${reg.host}/app:v1`, destinations: [`${reg.host}/carried/app`] }, (copies) => {
      assert.equal(copies.filter((m) => m.manifest).length, children.manifests.length, "every child manifest travels with its task");
      // Each message now carries another child's manifest: the copy must not push it as its own.
      return copies.map((m, i) => ({ ...m, manifest: copies[(i + 1) % copies.length]?.manifest }));
    });
    assert.equal(r.job?.status, "succeeded", JSON.stringify(r.job?.error));
    for (const d of children.manifests) {
      assert.deepEqual((await client.manifestGet("carried/app", d.digest)).digest, d.digest, `${d.digest} is at the destination`);
    }
    assert.equal((await client.manifestHead("carried/app", "v1"))?.digest, image.digest);
  });

  it("a destination already up to date gets no task; the job is skipped when all are", async () => {
    const { replicate } = harness();
    await replicate({ source: `${reg.host}/app:v1`, destinations: [`${reg.host}/three/app`] });
    const mixed = await replicate({ source: `${reg.host}/app:v1`, destinations: [`${reg.host}/three/app`, `${reg.host}/four/app`] });
    assert.deepEqual(new Set(mixed.copies.map((c) => c.destination.toString())), new Set([`${reg.host}/four/app`]));
    assert.equal(mixed.job?.status, "succeeded");
    assert.equal(mixed.job?.result?.destinations[0]?.upToDate, true);
    const again = await replicate({ source: `${reg.host}/app:v1`, destinations: [`${reg.host}/three/app`, `${reg.host}/four/app`] });
    assert.equal(again.planned, "skipped");
    assert.equal(again.copies.length, 0);
  });

  it("a filter and a merge: the merge keeps the destination's other platforms", async () => {
    const { replicate } = harness();
    const other = randomIndex({ platforms: [{ os: "linux", architecture: "s390x" }], seed: "use-cases-dst", layers: 1, layerSize: 64 });
    await pushImage(client, "merged/app", "v1", other);
    const r = await replicate({ source: `${reg.host}/app:v1`, destinations: [`${reg.host}/merged/app`], platforms: ["linux/amd64"], merge: true });
    assert.equal(r.copies.length, 1);
    assert.equal(r.job?.status, "succeeded");
    const raw = await client.manifestGet("merged/app", "v1");
    assert.deepEqual(entryPlatforms(raw.bytes), ["linux/amd64", "linux/s390x"]);
    assert.equal(r.job?.result?.digest, raw.digest);
  });

  it("normalize: index pushes a single-platform image as a one-entry index, and the result carries the CI fields", async () => {
    const { replicate } = harness();
    const single = randomImage({ platform: { os: "linux", architecture: "arm64", variant: "v8" }, seed: "use-cases-single", layers: 1, layerSize: 64 });
    await pushImage(client, "single", "v1", single);
    const r = await replicate({ source: `${reg.host}/single:v1`, destinations: [`${reg.host}/indexed/single`], normalize: "index" });
    assert.equal(r.job?.status, "succeeded", JSON.stringify(r.job?.error));
    assert.equal(r.copies[0]?.manifest, single.bytes.toString("base64"), "the image plan read travels with its task");
    const plain = await replicate({ source: `${reg.host}/single:v1`, destinations: [`${reg.host}/plain/single`] });
    assert.equal(plain.job?.status, "succeeded");
    assert.equal(plain.copies[0]?.manifest, single.bytes.toString("base64"), "so does a single image's root");
    const raw = await client.manifestGet("indexed/single", "v1");
    assert.deepEqual(entryPlatforms(raw.bytes), ["linux/arm64/v8"]);
    assert.equal((await client.manifestHead("indexed/single", single.digest))?.digest, single.digest, "the image by digest");
    const d = r.job?.result?.destinations[0];
    assert.deepEqual(
      { registry: d?.registry, repository: d?.repository, tag: d?.tag, short: d?.shortAddressByTag, digest: d?.digest },
      { registry: reg.host, repository: "indexed/single", tag: "v1", short: "indexed/single:v1", digest: raw.digest },
    );
  });

  it("an image with several large blobs fans out: a task per large blob, one for the rest, and merge pushes the image", async () => {
    const { replicate } = harness({ pipeline: { resumeAboveBytes: 1024 * 1024 } });
    const big = randomImage({ platform: { os: "linux", architecture: "amd64" }, seed: "use-cases-big", layers: 3, layerSize: 1300 * 1024 });
    await pushImage(client, "big", "v1", big);
    const r = await replicate({ source: `${reg.host}/big:v1`, destinations: [`${reg.host}/fanned/big`] });
    assert.equal(r.job?.status, "succeeded", JSON.stringify(r.job?.error));
    assert.equal(r.copies.filter((c) => c.blob).length, 3, "a task per large layer");
    assert.equal(r.copies.filter((c) => c.contentOnly && c.skipAbove === 1024 * 1024).length, 1, "one for the image's other blobs");
    assert.equal((await client.manifestHead("fanned/big", "v1"))?.digest, big.digest);
    for (const b of big.blobs) assert.equal(await client.blobHead("fanned/big", b.digest), b.size);
  });

  it("a source that is gone fails the job with NOT_FOUND on the source side", async () => {
    const { replicate } = harness();
    const r = await replicate({ source: `${reg.host}/app:missing`, destinations: [`${reg.host}/five/app`] });
    assert.equal(r.planned, "failed");
    assert.equal(r.job?.status, "failed");
    assert.equal(r.job?.error?.code, "NOT_FOUND");
    assert.equal(r.job?.error?.side, "source");
  });
});
