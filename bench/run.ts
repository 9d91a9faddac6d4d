/**
 * `npm run bench`: ferry against `skopeo copy --all --preserve-digests` on the same generated
 * images and the same local registries, in one run. For each scenario and tool: several runs,
 * each into a fresh destination registry (skopeo's blob-info cache in a fresh HOME), reporting
 * the median wall time, client CPU time and peak RSS, and the ferry/skopeo ratio; then a second
 * run onto an up-to-date destination, counting requests by method through a proxy.
 * Then the pipeline's latency and throughput on the embedded stand-ins (bench/pipeline.ts).
 * Writes bench/results.md and prints it. FERRY_BENCH_RUNS (default 3), FERRY_BENCH_ONLY=a,b,c,pipeline,bundles.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { RegistryClient } from "../lib/registry/client.ts";
import { REGISTRY_BIN, startDistribution } from "../test/helpers/distribution.ts";
import { type ManifestSpec, pushImage, randomImage, randomIndex } from "../test/helpers/images.ts";
import { startCountingProxy } from "./counting-proxy.ts";
import { benchBundles } from "./bundles.ts";
import { benchPipeline, cpuMs } from "./pipeline.ts";

const run = promisify(execFile);
const here = fileURLToPath(new URL(".", import.meta.url));
// The bundle `npm run bench` just built, run directly: never the source through tsx.
const FERRY = join(here, "..", "dist", "ferry.mjs");
const RUNS = Number(process.env.FERRY_BENCH_RUNS ?? 3);
const ONLY = process.env.FERRY_BENCH_ONLY?.split(",");

interface Scenario {
  id: string;
  label: string;
  image: () => ManifestSpec;
  target?: string;
}
const scenarios: Scenario[] = [
  {
    id: "a",
    label: "4 platforms × 5 layers × 40 MB",
    image: () => randomIndex({ platforms: 4, layers: 5, layerSize: 40_000_000, seed: "bench-a" }),
    target: "≤ 0.8× skopeo, ≤ 1.15× limit",
  },
  {
    id: "b",
    label: "4 platforms × 30 layers × 100 KB",
    image: () => randomIndex({ platforms: 4, layers: 30, layerSize: 100_000, seed: "bench-b" }),
    target: "≤ 0.6× skopeo, ≤ 1.3× limit",
  },
  {
    id: "c",
    label: "one 1 GiB layer",
    image: () => randomImage({ layers: 1, layerSize: 1024 ** 3, seed: "bench-c" }),
    target: "≤ 0.8× skopeo, ≤ 1.1× limit, peak RSS ≤ 100 MB",
  },
].filter((s) => !ONLY || ONLY.includes(s.id));

interface Usage {
  wallMs: number;
  cpuMs: number;
  peakRssMB: number;
  /** CPU the two registries used during the run (from /proc). */
  registriesCpuMs?: number;
}

type Tool = "ferry" | "skopeo" | "limit";

/** The command each tool runs; `limit` is bench/limit.mjs, the requests any correct copy needs and nothing else. */
function commandOf(tool: Tool, src: string, dst: string): string[] {
  if (tool === "ferry") return [process.execPath, FERRY, "copy", "--quiet", src, dst];
  if (tool === "limit") return [process.execPath, join(here, "limit.mjs"), src, dst];
  return [
    "skopeo",
    "copy",
    "--all",
    "--preserve-digests",
    "--quiet",
    "--src-tls-verify=false",
    "--dest-tls-verify=false",
    `docker://${src}`,
    `docker://${dst}`,
  ];
}

async function measure(tool: Tool, src: string, dst: string, home: string): Promise<Usage> {
  const cmd = commandOf(tool, src, dst);
  const { stderr } = await run("python3", [join(here, "rusage.py"), ...cmd], { env: { ...process.env, HOME: home }, maxBuffer: 16 * 1024 * 1024 });
  const line = stderr.split("\n").find((l) => l.startsWith("RUSAGE "));
  if (!line) throw new Error(`${tool}: no usage line: ${stderr}`);
  const u = JSON.parse(line.slice(7)) as Usage & { code: number };
  if (u.code !== 0) throw new Error(`${tool} exited ${u.code}: ${stderr}`);
  return u;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** The commit measured, marked when the working tree differs from it. */
async function commitOf(): Promise<string> {
  const { stdout: head } = await run("git", ["rev-parse", "--short=10", "HEAD"]).catch(() => ({ stdout: "unknown" }));
  const { stdout: dirty } = await run("git", ["status", "--porcelain", "--untracked-files=no"]).catch(() => ({ stdout: "" }));
  return `${head.trim()}${dirty.trim() ? " (with uncommitted changes)" : ""}`;
}

/** The registry's own version string (`docker-registry --version`). */
async function registryVersion(): Promise<string> {
  const { stdout } = await run(REGISTRY_BIN, ["--version"]).catch(() => ({ stdout: "2.8" }));
  return (
    stdout
      .trim()
      .split(/\s+/)
      .find((w) => /^v?\d+\.\d+/.test(w)) ?? stdout.trim()
  );
}

/** `1.50 s own + 1.90 s registries, cores 80 % busy`: medians over a tool's runs. */
function whereCpuWent(runs: Usage[]): string {
  const own = median(runs.map((u) => u.cpuMs));
  const registries = median(runs.map((u) => u.registriesCpuMs ?? 0));
  const busy = median(runs.map((u) => (u.cpuMs + (u.registriesCpuMs ?? 0)) / (u.wallMs * cpus().length)));
  return `${(own / 1000).toFixed(2)} s own + ${(registries / 1000).toFixed(2)} s registries, cores ${(busy * 100).toFixed(0)} % busy`;
}

async function main(): Promise<void> {
  const started = Date.now();
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? "cpu"}, ${Math.round(totalmem() / 1024 ** 3)} GiB RAM, Node ${process.version}`;
  const { stdout: skopeoVersion } = await run("skopeo", ["--version"]);
  console.error(`bench: ${machine}; ${skopeoVersion.trim()}; ${RUNS} runs per tool`);
  const src = await startDistribution();
  const rows: string[] = [];
  const requestRows: string[] = [];
  const cpuRows: string[] = [];
  const rawRows: string[] = [];
  try {
    const seedClient = new RegistryClient({ host: src.host, side: "destination" });
    for (const s of scenarios) {
      const image = s.image();
      console.error(`bench ${s.id}: pushing ${s.label} into the source registry…`);
      await pushImage(seedClient, `bench/${s.id}`, "v1", image);
      const results: Record<Tool, Usage[]> = { ferry: [], skopeo: [], limit: [] };
      for (let i = 0; i < RUNS; i++) {
        // alternate the order so neither tool always runs on a warmer machine
        // rotate the order so no tool always runs on a warmer machine
        const order: Tool[] = ["ferry", "skopeo", "limit"];
        for (const tool of [...order.slice(i % 3), ...order.slice(0, i % 3)]) {
          const dst = await startDistribution();
          const home = await mkdtemp(join(tmpdir(), "ferry-bench-home-"));
          try {
            const registries = () => cpuMs(src.pid as number) + cpuMs(dst.pid as number);
            const before = registries();
            const u = await measure(tool, `${src.host}/bench/${s.id}:v1`, `${dst.host}/bench/${s.id}:v1`, home);
            u.registriesCpuMs = registries() - before;
            const check = new RegistryClient({ host: dst.host });
            const got = await check.manifestHead(`bench/${s.id}`, "v1");
            await check.close();
            if (got?.digest !== image.digest) throw new Error(`${tool} run ${i + 1}: destination digest ${got?.digest} ≠ ${image.digest}`);
            results[tool].push(u);
            console.error(`  ${tool} run ${i + 1}: ${u.wallMs} ms wall, ${u.cpuMs} ms CPU, ${u.peakRssMB} MB peak RSS`);
          } finally {
            await dst.stop();
            await rm(home, { recursive: true, force: true });
          }
        }
      }
      for (const tool of ["ferry", "skopeo", "limit"] as Tool[]) {
        rawRows.push(
          `| (${s.id}) | ${tool} | ${results[tool].map((u) => `${(u.wallMs / 1000).toFixed(2)} s / ${(u.cpuMs / 1000).toFixed(2)} s / ${u.peakRssMB} MB`).join(" · ")} |`,
        );
      }
      const f = {
        wall: median(results.ferry.map((u) => u.wallMs)),
        cpu: median(results.ferry.map((u) => u.cpuMs)),
        rss: Math.max(...results.ferry.map((u) => u.peakRssMB)),
      };
      const k = {
        wall: median(results.skopeo.map((u) => u.wallMs)),
        cpu: median(results.skopeo.map((u) => u.cpuMs)),
        rss: Math.max(...results.skopeo.map((u) => u.peakRssMB)),
      };
      const l = { wall: median(results.limit.map((u) => u.wallMs)), rss: Math.max(...results.limit.map((u) => u.peakRssMB)) };
      cpuRows.push(`| (${s.id}) | ${(["ferry", "skopeo", "limit"] as Tool[]).map((t) => whereCpuWent(results[t])).join(" | ")} |`);
      rows.push(
        `| (${s.id}) ${s.label} | ${(f.wall / 1000).toFixed(2)} s | ${(k.wall / 1000).toFixed(2)} s | ${(l.wall / 1000).toFixed(2)} s | **${(f.wall / k.wall).toFixed(2)}×** | **${(f.wall / l.wall).toFixed(2)}×** | ${(f.cpu / 1000).toFixed(2)} s | ${(k.cpu / 1000).toFixed(2)} s | ${f.rss} MB | ${k.rss} MB | ${l.rss} MB | ${s.target ?? ""} |`,
      );

      // Up-to-date destination: copy once, then count a second run's requests through proxies.
      const counts: Record<Tool, string> = { ferry: "", skopeo: "", limit: "" };
      for (const tool of ["ferry", "skopeo"] as Tool[]) {
        const dst = await startDistribution();
        const home = await mkdtemp(join(tmpdir(), "ferry-bench-home-"));
        try {
          await measure(tool, `${src.host}/bench/${s.id}:v1`, `${dst.host}/bench/${s.id}:v1`, home);
          const [ps, pd] = await Promise.all([startCountingProxy(src.host), startCountingProxy(dst.host)]);
          await measure(tool, `${ps.host}/bench/${s.id}:v1`, `${pd.host}/bench/${s.id}:v1`, home);
          const fmt = (c: Record<string, number>) =>
            Object.entries(c)
              .sort()
              .map(([m, n]) => `${m} ${n}`)
              .join(", ") || "none";
          counts[tool] = `source: ${fmt(ps.counts)}; destination: ${fmt(pd.counts)}`;
          await Promise.all([ps.stop(), pd.stop()]);
        } finally {
          await dst.stop();
          await rm(home, { recursive: true, force: true });
        }
      }
      requestRows.push(`| (${s.id}) | ${counts.ferry} | ${counts.skopeo} |`);
    }
    await seedClient.close();
  } finally {
    await src.stop();
  }
  let pipeline = "";
  if (!ONLY || ONLY.includes("pipeline")) {
    console.error("bench pipeline: latency and throughput through ferry serve…");
    pipeline = await benchPipeline(FERRY, (s) => console.error(s));
  }
  let bundles = "";
  if (!ONLY || ONLY.includes("bundles")) {
    console.error("bench bundles: sizes and cold import times…");
    bundles = await benchBundles((s) => console.error(s));
  }
  const md = [
    `Commit ${await commitOf()}. Machine: ${machine}. ${skopeoVersion.trim()}, CNCF distribution ${await registryVersion()} (\`docker-registry\`), both registries on loopback.`,
    `Median of ${RUNS} runs per tool, each into a fresh destination registry; peak RSS is the maximum over the runs. The limit is \`bench/limit.mjs\`: only the requests any correct copy needs (a GET per manifest and blob, a monolithic upload per blob, a PUT per manifest), at ferry's concurrency, with no checks.`,
    `Run on ${new Date().toISOString().slice(0, 10)} with \`npm run bench\` (${Math.round((Date.now() - started) / 1000)} s).`,
    "",
    "| scenario | ferry wall | skopeo wall | limit wall | ferry/skopeo | ferry/limit | ferry CPU | skopeo CPU | ferry peak RSS | skopeo peak RSS | limit peak RSS | target |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
    `Where the CPU went (medians): the tool's own, the two registries' (from /proc), and how busy that kept the machine's ${cpus().length} cores over the tool's wall time:`,
    "",
    "| scenario | ferry | skopeo | limit |",
    "| --- | --- | --- | --- |",
    ...cpuRows,
    "",
    "Second run onto an up-to-date destination, requests by method:",
    "",
    "| scenario | ferry | skopeo |",
    "| --- | --- | --- |",
    ...requestRows,
    "",
    pipeline,
    bundles,
    "",
    "## Raw runs",
    "",
    "Each run in order, wall / CPU / peak RSS:",
    "",
    "| scenario | tool | runs |",
    "| --- | --- | --- |",
    ...rawRows,
    "",
  ].join("\n");
  // A partial run (FERRY_BENCH_ONLY) never replaces the full results the README quotes.
  await writeFile(join(here, ONLY ? "results-partial.md" : "results.md"), md);
  process.stdout.write(md);
}

await main();
