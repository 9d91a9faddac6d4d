/**
 * A backfill finds destination tags ferry wrote whose source tags are gone (no webhook told) and
 * queues the same delete jobs a webhook's deletion makes, through the local pipeline (the
 * handlers `ferry serve` runs) on real registries; a second run queues none again.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import type { LocalServer } from "../../lib/local/serve.ts";
import { backfillRule } from "../../lib/pipeline/backfill.ts";
import { type PipelineDeps, silentLog } from "../../lib/pipeline/deps.ts";
import { submitReplication } from "../../lib/pipeline/ingress.ts";
import { poolFromConfig } from "../../lib/pipeline/registries.ts";
import { SqsQueues } from "../../lib/queue/sqs.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { type Distribution, freePort, startDistribution } from "../helpers/distribution.ts";
import { pushImage, randomImage } from "../helpers/images.ts";
import { api, startFerry, waitForJob, writeConfig } from "../helpers/pipeline.ts";

let src: Distribution;
let dst: Distribution;
let ferry: LocalServer;
let dir: string;
let deps: PipelineDeps;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-deletes-bf-"));
  [src, dst] = await Promise.all([startDistribution(), startDistribution()]);
  const config = await writeConfig(
    join(dir, "ferry.yml"),
    `version: 1
rules:
  - name: mirror
    source: "${src.host}/bf/app"
    destinations: ["${dst.host}/bf/app"]
    deletes: { mode: propagate, delay: 1 }
    backfill: { schedule: "rate(1 day)" }
api: { token: test-token }
pipeline: { visibilityTimeout: 2 }
`,
  );
  ferry = await startFerry(config, { port: await freePort(), dataDir: false });
  // What the backfill function is given under ferry serve: the same store and queues.
  deps = {
    config: ferry.config,
    store: ferry.store,
    queues: new SqsQueues(ferry.backends.sqs, ferry.backends.queues),
    registries: poolFromConfig(ferry.config),
    log: silentLog,
  };
});
after(async () => {
  await ferry?.stop();
  await deps?.registries.close();
  await Promise.all([src?.stop(), dst?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

/** One backfill of the rule, as the scheduled function runs it; the ids of the jobs it created. */
async function backfill(): Promise<{ counts: Record<string, number>; jobs: string[] }> {
  const jobs: string[] = [];
  const rule = ferry.config.rules[0];
  if (!rule) throw new Error("no rule");
  const { counts } = await backfillRule(
    deps.registries,
    rule,
    async (request, jobId) => {
      const r = await submitReplication(deps, request, jobId);
      if (r.created) jobs.push(r.id);
      return r.created;
    },
    silentLog,
    { written: deps.store },
  );
  return { counts: { ...counts }, jobs };
}

it("a tag ferry wrote, gone from the source, is deleted downstream by a backfill's delete job; a tag still there is not", { timeout: 120_000 }, async () => {
  const s = new RegistryClient({ host: src.host });
  const d = new RegistryClient({ host: dst.host });
  try {
    const gone = randomImage({ seed: "bf-gone" });
    const stays = randomImage({ seed: "bf-stays" });
    await pushImage(s, "bf/app", "gone", gone);
    await pushImage(s, "bf/app", "stays", stays);
    const first = await backfill();
    assert.equal(first.counts.enqueued, 2);
    assert.equal(first.counts.deletes, undefined, "nothing written yet, nothing to delete");
    for (const id of first.jobs) assert.equal((await waitForJob(ferry.url, id)).status, "succeeded");

    await s.manifestDelete("bf/app", gone.digest);
    const second = await backfill();
    assert.equal(second.counts.deletes, 1);
    assert.equal(second.counts.enqueued, 0);
    assert.equal(second.jobs.length, 1);
    const job = await waitForJob(ferry.url, String(second.jobs[0]));
    assert.equal(job.status, "succeeded", JSON.stringify(job));
    assert.equal(job.trigger, "backfill");
    assert.deepEqual((job.result as { deletions: unknown[] }).deletions, [
      { destination: `${dst.host}/bf/app:gone`, outcome: "deleted", digest: gone.digest, by: "digest" },
    ]);
    assert.equal(await d.manifestHead("bf/app", "gone"), undefined);
    assert.equal((await d.manifestHead("bf/app", "stays"))?.digest, stays.digest);

    const third = await backfill();
    assert.equal(third.counts.deletes, undefined, "the record went with the tag: nothing queued again");
    assert.deepEqual(third.jobs, []);
    const listed = (await api(ferry.url, "GET", "/replications?limit=100")).body.jobs as unknown[];
    assert.equal(listed.length, 3);
  } finally {
    await Promise.all([s.close(), d.close()]);
  }
});
