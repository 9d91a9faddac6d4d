/**
 * Pipeline figures on the embedded stand-ins (`ferry serve` with fauxqs and dynalite):
 * webhook → tag visible latency for a small 2-platform image (p50, p95 over 20 pushes; the clock
 * starts when the tag's PUT returns, which is when the registry sends its notification), and
 * throughput for 100 queued small replications (jobs per second, first POST to last success).
 */
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RegistryClient } from "../lib/registry/client.ts";
import { freePort, startDistribution } from "../test/helpers/distribution.ts";
import { pushImage, randomIndex } from "../test/helpers/images.ts";
import { spawnServe, stopServe } from "../test/helpers/serve-process.ts";

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
};

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
api: { token: bench, allow: [{ source: "${src.host}/tp/**", destinations: ["${dst.host}/tp/*"] }] }
`,
    );
    ferry = await spawnServe(ferryBundle, config, port, { inheritStderr: true, args: ["--data-dir", join(dir, "state")] });
    const srcClient = new RegistryClient({ host: src.host });
    const dstClient = new RegistryClient({ host: dst.host });

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

    // Throughput: 100 replications queued as fast as the API takes them.
    const image = randomIndex({ platforms: 2, layers: 1, layerSize: 20_000, seed: `tp-${Date.now()}` });
    await pushImage(srcClient, "tp/app", "v1", image);
    const t0 = performance.now();
    const ids = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const r = await fetch(`${base}/replications`, {
          method: "POST",
          headers: { authorization: "Bearer bench", "content-type": "application/json" },
          body: JSON.stringify({ source: `${src.host}/tp/app:v1`, destinations: [`${dst.host}/tp/copy${i}`] }),
        });
        return ((await r.json()) as { id: string }).id;
      }),
    );
    // One list request per poll: the figure is the pipeline's, not the status API's under a
    // hundred clients polling at once (that load is on the store, durable or not).
    const pending = new Set(ids);
    while (pending.size > 0) {
      const list = (await (await fetch(`${base}/replications?limit=100`, { headers: { authorization: "Bearer bench" } })).json()) as {
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
    const seconds = (performance.now() - t0) / 1000;
    await Promise.all([srcClient.close(), dstClient.close()]);
    return [
      "Pipeline on the embedded stand-ins (`ferry serve`: fauxqs, dynalite; copy concurrency 4):",
      "",
      "| measure | result |",
      "| --- | --- |",
      `| webhook → tag visible, small 2-platform image, 20 pushes | p50 ${percentile(latencies, 50).toFixed(0)} ms, p95 ${percentile(latencies, 95).toFixed(0)} ms |`,
      `| 100 queued small replications (2 platforms each) | ${(100 / seconds).toFixed(1)} jobs/s (${seconds.toFixed(1)} s) |`,
      "",
    ].join("\n");
  } finally {
    await stopServe(ferry);
    await Promise.all([src.stop(), dst.stop()]);
    await rm(dir, { recursive: true, force: true });
  }
}
