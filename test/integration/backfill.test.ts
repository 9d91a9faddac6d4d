/**
 * `ferry backfill` on a source with 300 tags, 100 already mirrored and 20 excluded by the rule's
 * filter: it queues exactly the other 180 (through a running local pipeline), and a second run
 * queues none. A dry run before counts the same and queues nothing.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, it } from "node:test";
import type { LocalServer } from "../../lib/local/serve.ts";
import { backfillRule } from "../../lib/pipeline/backfill.ts";
import { silentLog } from "../../lib/pipeline/deps.ts";
import { poolFromConfig } from "../../lib/pipeline/registries.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { type Distribution, freePort, startDistribution } from "../helpers/distribution.ts";
import { cosignSignature, keyPair } from "../helpers/cosign.ts";
import { pushImage, randomImage, randomIndex } from "../helpers/images.ts";
import { api, startFerry, waitForJob, writeConfig } from "../helpers/pipeline.ts";

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../../bin/ferry.js", import.meta.url));
let src: Distribution;
let dst: Distribution;
let ferry: LocalServer;
let dir: string;
let config: string;
const tags = Array.from({ length: 300 }, (_, i) => `t${String(i).padStart(3, "0")}`);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-backfill-"));
  [src, dst] = await Promise.all([startDistribution(), startDistribution()]);
  const image = randomImage({ layers: 1, layerSize: 1000, seed: "backfill" });
  const s = new RegistryClient({ host: src.host });
  const d = new RegistryClient({ host: dst.host });
  await pushImage(s, "bf/app", undefined, image);
  await pushImage(d, "bf/app", undefined, image);
  for (let i = 0; i < tags.length; i += 25) {
    await Promise.all(tags.slice(i, i + 25).map((t) => s.manifestPut("bf/app", t, image.bytes, image.mediaType)));
  }
  // the first 100 tags are already mirrored
  await Promise.all(tags.slice(0, 100).map((t) => d.manifestPut("bf/app", t, image.bytes, image.mediaType)));
  await Promise.all([s.close(), d.close()]);
  const port = await freePort();
  config = await writeConfig(
    join(dir, "ferry.yml"),
    `version: 1
rules:
  - name: mirror
    source: "${src.host}/bf/app"
    destinations: ["${dst.host}/bf/app"]
    tags: { exclude: ["^t2[89][0-9]$"] }   # t280–t299: 20 tags
    backfill: { schedule: "rate(1 day)" }
api: { token: test-token }
`,
  );
  ferry = await startFerry(config, { port, dataDir: false });
});
after(async () => {
  await ferry?.stop();
  await Promise.all([src?.stop(), dst?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

const backfill = async (...extra: string[]) => {
  const { stdout } = await run(process.execPath, [BIN, "backfill", "--config", config, "--server", ferry.url, "--json", ...extra]);
  return (JSON.parse(stdout) as Record<string, Record<string, number>>).mirror;
};

it("queues exactly the 180 tags missing downstream, and a second run queues none", { timeout: 180_000 }, async () => {
  const dry = await backfill("--dry-run");
  assert.deepEqual(dry, { repositories: 1, listed: 300, upToDate: 100, enqueued: 180, alreadyQueued: 0, skippedByFilter: 20 });
  assert.equal(((await api(ferry.url, "GET", "/replications?limit=10")).body.jobs as unknown[]).length, 0, "a dry run queues nothing");

  const first = await backfill();
  assert.deepEqual(first, { repositories: 1, listed: 300, upToDate: 100, enqueued: 180, alreadyQueued: 0, skippedByFilter: 20 });
  const second = await backfill();
  assert.equal(second?.enqueued, 0, "nothing queued twice");
  assert.equal((second?.alreadyQueued ?? 0) + (second?.upToDate ?? 0), 280);

  const jobs = (await api(ferry.url, "GET", "/replications?limit=100")).body.jobs as Array<{ id: string; trigger: string; source: string }>;
  assert.ok(jobs.every((j) => j.trigger === "backfill"));
  const one = jobs.find((j) => j.source.includes(":t150@"));
  assert.ok(one, "t150 was queued");
  assert.equal((await waitForJob(ferry.url, one.id, undefined, 120_000)).status, "succeeded");
  assert.ok(!jobs.some((j) => /:t(0\d\d|28\d|29\d)@/.test(j.source)), "neither mirrored nor excluded tags were queued");
});

it("a run past its deadline saves a cursor; the next run resumes there and finishes", { timeout: 120_000 }, async () => {
  const deps = { config: ferry.config, registries: poolFromConfig(ferry.config), store: ferry.store };
  const rule = { ...deps.config.rules[0]!, name: "mirror-resume" };
  const seen = new Set<string>();
  const enqueue = async (r: { source: string }) => {
    seen.add(r.source);
    return true;
  };
  // 5 s of margin before the deadline: the first chunk of 50 tags runs, then the run pauses
  const first = await backfillRule(deps.registries, rule, enqueue, silentLog, { deadline: Date.now() + 5_100, cursors: deps.store });
  assert.equal(first.complete, false);
  assert.ok(await deps.store.getCursor("backfill/mirror-resume"), "a cursor was saved");
  const second = await backfillRule(deps.registries, rule, enqueue, silentLog, { cursors: deps.store });
  assert.equal(second.complete, true);
  assert.equal(await deps.store.getCursor("backfill/mirror-resume"), undefined, "the cursor is cleared when done");
  // together the two runs covered every kept tag exactly as one run would
  assert.equal(first.counts.upToDate + first.counts.enqueued + second.counts.upToDate + second.counts.enqueued, 280);
  assert.ok(seen.size <= 180);
});

it("compares referrers: a tag whose signature is missing downstream is queued; cosign tags are not images to mirror", { timeout: 60_000 }, async () => {
  const image = randomIndex({ platforms: 1, seed: "backfill-signed", layers: 1, layerSize: 64 });
  const { privateKey } = keyPair("ecdsa-p256");
  const sig = cosignSignature(image.digest, `${src.host}/bf/signed`, privateKey);
  const s = new RegistryClient({ host: src.host });
  const d = new RegistryClient({ host: dst.host });
  try {
    await pushImage(s, "bf/signed", "v1", image);
    await pushImage(s, "bf/signed", sig.tag, sig);
    await pushImage(d, "bf/signed", "v1", image); // the image is there, its signature is not
    const rule = { ...ferry.config.rules[0]!, name: "signed", source: `${src.host}/bf/signed`, destinations: [`${dst.host}/bf/signed`], tags: undefined };
    const queued: Array<{ source: string; destinations: string[] }> = [];
    const enqueue = async (r: { source: string; destinations: string[] }) => {
      queued.push(r);
      return true;
    };
    const first = await backfillRule(poolFromConfig(ferry.config), rule, enqueue, silentLog);
    assert.deepEqual(first.counts, { repositories: 1, listed: 2, upToDate: 0, enqueued: 1, alreadyQueued: 0, skippedByFilter: 1 });
    assert.equal(queued[0]?.source, `${src.host}/bf/signed:v1@${image.digest}`);
    await pushImage(d, "bf/signed", sig.tag, sig);
    const second = await backfillRule(poolFromConfig(ferry.config), rule, enqueue, silentLog);
    assert.deepEqual(second.counts, { repositories: 1, listed: 2, upToDate: 1, enqueued: 0, alreadyQueued: 0, skippedByFilter: 1 });
  } finally {
    await Promise.all([s.close(), d.close()]);
  }
});
