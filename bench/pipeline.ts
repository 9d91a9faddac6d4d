/**
 * Pipeline figures on the embedded stand-ins (`ferry serve` with fauxqs and dynalite):
 * - webhook → tag visible latency for a small 2-platform image (p50, p95 over 20 pushes; the clock
 *   starts when the tag's PUT returns, which is when the registry sends its notification);
 * - throughput for 100 queued small replications (jobs per second, first POST to last success),
 *   of one image into 100 repositories (after the first copies, ferry mounts the blobs it already
 *   put on the destination registry) and of 100 different images (nothing to mount);
 * - the same 100 copies of one image by the limit (bench/limit.mjs: only the requests any copy
 *   needs, no queue, no store, no mounts), 4 at once;
 * - where the CPU went meanwhile: milliseconds per job in ferry serve and in each registry, read
 *   from /proc. The machine's cores bound jobs/s at cores ÷ (CPU per job, everything together).
 */
import type { ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { RegistryClient } from "../lib/registry/client.ts";
import { type Distribution, freePort, startDistribution } from "../test/helpers/distribution.ts";
import { type ManifestSpec, pushImage, randomIndex } from "../test/helpers/images.ts";
import { spawnServe, stopServe } from "../test/helpers/serve-process.ts";
// @ts-expect-error plain JavaScript without types: copyImage(srcRef, dstRef), close()
import * as limit from "./limit.mjs";

const JOBS = 100;

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
};

const TICKS = Number(execFileSync("getconf", ["CLK_TCK"]).toString()) || 100;

/** CPU milliseconds (user + system, all threads) a process has used so far. */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
}

/** CPU per job of each process over `run`, and the jobs/s the machine's cores would allow at that cost. */
async function measured(pids: Record<string, number>, run: () => Promise<number>) {
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMs(pid)]));
  const self = process.cpuUsage();
  const seconds = await run();
  const used = process.cpuUsage(self);
  const perJob: Record<string, number> = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, (cpuMs(pid) - (before[k] as number)) / JOBS]));
  perJob["bench client"] = (used.user + used.system) / 1000 / JOBS;
  const total = Object.values(perJob).reduce((a, b) => a + b, 0);
  return { rate: JOBS / seconds, seconds, perJob, ceiling: (cpus().length * 1000) / total };
}

type Measured = Awaited<ReturnType<typeof measured>>;

const cpuCell = (m: Measured) =>
  `${Object.entries(m.perJob)
    .map(([k, v]) => `${k} ${v.toFixed(0)}`)
    .join(", ")} (≤ ${m.ceiling.toFixed(0)} jobs/s on ${cpus().length} cores)`;

export async function benchPipeline(ferryBundle: string, log: (s: string) => void): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "ferry-bench-pipeline-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const [src, dst] = await Promise.all([
    startDistribution({
      notifications: { url: `${base}/webhooks/distribution/bench`, headers: { Authorization: ["Bearer s3cret"] }, backoff: "200ms", ignorePulls: true },
    }),
    startDistribution(),
  ]);
  let ferry: ChildProcess | undefined;
  try {
    const config = join(dir, "ferry.yml");
    await writeFile(
      config,
      `version: 1
webhooks: [{ provider: distribution, id: bench, registry: "${src.host}", secret: s3cret }]
rules: [{ name: mirror, source: "${src.host}/lat/**", destinations: ["${dst.host}/{repo}"] }]
api: { token: bench, allow: [{ source: "${src.host}/tp/**", destinations: ["${dst.host}/tp/**"] }] }
`,
    );
    ferry = await spawnServe(ferryBundle, config, port, { inheritStderr: true, args: ["--data-dir", join(dir, "state")] });
    const srcClient = new RegistryClient({ host: src.host });
    const dstClient = new RegistryClient({ host: dst.host });
    const pids = processes(ferry, src, dst);

    // Latency: push, then poll the destination tag every 5 ms.
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const image = randomIndex({ platforms: 2, layers: 1, layerSize: 20_000, seed: `lat-${i}-${Date.now()}` });
      await pushImage(srcClient, "lat/app", undefined, image); // children and index by digest first
      const t0 = performance.now();
      await srcClient.manifestPut("lat/app", `v${i}`, image.bytes, image.mediaType); // the tag push notifies ferry
      for (;;) {
        const h = await dstClient.manifestHead("lat/app", `v${i}`);
        if (h?.digest === image.digest) break;
        if (performance.now() - t0 > 60_000) throw new Error(`push ${i} not replicated in 60 s`);
        await new Promise((r) => setTimeout(r, 5));
      }
      latencies.push(performance.now() - t0);
    }
    log(`  latency ms: ${latencies.map((l) => l.toFixed(0)).join(" ")}`);

    // Throughput: one image into 100 repositories, then 100 different images.
    const seed = Date.now();
    const one = randomIndex({ platforms: 2, layers: 1, layerSize: 20_000, seed: `tp-${seed}` });
    await pushImage(srcClient, "tp/app", "v1", one);
    const same = await measured(pids, () => queued(base, (i) => ({ source: `${src.host}/tp/app:v1`, destination: `${dst.host}/tp/copy${i}` })));
    log(`  one image into ${JOBS} repositories: ${same.rate.toFixed(1)} jobs/s`);
    const many = Array.from({ length: JOBS }, (_, i) => randomIndex({ platforms: 2, layers: 1, layerSize: 20_000, seed: `tp-${seed}-${i}` }));
    await pushAll(srcClient, many);
    const distinct = await measured(pids, () => queued(base, (i) => ({ source: `${src.host}/tp/many${i}:v1`, destination: `${dst.host}/tp/many${i}` })));
    log(`  ${JOBS} different images: ${distinct.rate.toFixed(1)} jobs/s`);
    await Promise.all([srcClient.close(), dstClient.close()]);
    await stopServe(ferry);
    ferry = undefined;

    // The limit: the same copies of one image with only the necessary requests, 4 at once.
    const { ferry: _, ...registries } = pids;
    const lim = await measured(registries, () => limitCopies(`${src.host}/tp/app:v1`, (i) => `${dst.host}/tp/limit${i}:v1`, 4));
    log(`  limit, one image into ${JOBS} repositories: ${lim.rate.toFixed(1)} jobs/s`);
    return [
      "Pipeline on the embedded stand-ins (`ferry serve`: fauxqs, dynalite; copy concurrency 4). CPU is milliseconds per job, read from /proc while the jobs ran; the ceiling is the machine's cores divided by their sum.",
      "",
      "| measure | result | CPU ms per job |",
      "| --- | --- | --- |",
      `| webhook → tag visible, small 2-platform image, 20 pushes | p50 ${percentile(latencies, 50).toFixed(0)} ms, p95 ${percentile(latencies, 95).toFixed(0)} ms | |`,
      `| ${JOBS} queued replications of one small 2-platform image into ${JOBS} repositories (blobs mount after the first copies) | ${rateCell(same)} | ${cpuCell(same)} |`,
      `| ${JOBS} queued replications of ${JOBS} different small 2-platform images (nothing to mount) | ${rateCell(distinct)} | ${cpuCell(distinct)} |`,
      `| the limit: the same ${JOBS} copies of one image with only the necessary requests, 4 at once, no queue or store | ${rateCell(lim)} | ${cpuCell(lim)} |`,
      "",
    ].join("\n");
  } finally {
    if (ferry) await stopServe(ferry);
    await limit.close();
    await Promise.all([src.stop(), dst.stop()]);
    await rm(dir, { recursive: true, force: true });
  }
}

const rateCell = (m: Measured) => `${m.rate.toFixed(1)} jobs/s (${m.seconds.toFixed(1)} s)`;

function processes(ferry: ChildProcess, src: Distribution, dst: Distribution): Record<string, number> {
  if (!ferry.pid || !src.pid || !dst.pid) throw new Error("a process of the bench has no pid");
  return { ferry: ferry.pid, "source registry": src.pid, "destination registry": dst.pid };
}

async function pushAll(client: RegistryClient, images: ManifestSpec[]): Promise<void> {
  for (let i = 0; i < images.length; i += 10) {
    await Promise.all(images.slice(i, i + 10).map((m, j) => pushImage(client, `tp/many${i + j}`, "v1", m)));
  }
}

/** Queues JOBS replications through the API at once; resolves to the seconds until the last succeeded. */
async function queued(base: string, job: (i: number) => { source: string; destination: string }): Promise<number> {
  const t0 = performance.now();
  const ids = await Promise.all(
    Array.from({ length: JOBS }, async (_, i) => {
      const { source, destination } = job(i);
      const r = await fetch(`${base}/replications`, {
        method: "POST",
        headers: { authorization: "Bearer bench", "content-type": "application/json" },
        body: JSON.stringify({ source, destinations: [destination] }),
      });
      return ((await r.json()) as { id: string }).id;
    }),
  );
  // One list request per poll: the figure is the pipeline's, not the status API's under a
  // hundred clients polling at once (that load is on the store, durable or not).
  const pending = new Set(ids);
  while (pending.size > 0) {
    const list = (await (await fetch(`${base}/replications?limit=${JOBS}`, { headers: { authorization: "Bearer bench" } })).json()) as {
      jobs: Array<{ id: string; status: string }>;
    };
    for (const job of list.jobs) {
      if (!pending.has(job.id)) continue;
      if (job.status === "succeeded") pending.delete(job.id);
      else if (["failed", "skipped"].includes(job.status)) throw new Error(`job ${job.id} ${job.status}`);
    }
    if (performance.now() - t0 > 300_000) throw new Error("throughput run did not finish in 5 minutes");
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 50));
  }
  return (performance.now() - t0) / 1000;
}

/** JOBS copies by the limit, `parallel` at once; resolves to the seconds they took. */
async function limitCopies(source: string, destination: (i: number) => string, parallel: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let i = next++; i < JOBS; i = next++) await limit.copyImage(source, destination(i));
    }),
  );
  return (performance.now() - t0) / 1000;
}
