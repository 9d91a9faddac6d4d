/**
 * The chaos harness of issue 9 ("accepted means replicated"), shared by the short test
 * (test/integration/chaos.test.ts) and the long run (bench/chaos.ts).
 *
 * Two real distribution registries, a fault proxy in front of each (ferry only ever sees the
 * proxies), `ferry serve` as a child process on a data directory. Many replications of
 * multi-platform images are submitted through `POST /replications` while ferry serve is killed
 * with SIGKILL at seeded random moments and restarted on the same data directory and port;
 * some keys are delivered twice (at once, or later), and several jobs race for one destination
 * tag. Then the faults stop, every accepted job gets a bounded time to become final, and the
 * destination registry is checked directly (not through the proxy):
 *
 * - lost: an accepted job id answers 404;
 * - stranded: a job is not final (`succeeded`, `failed`, `skipped`) after the wait;
 * - corrupt: a succeeded (or skipped) job whose destination lacks a manifest or blob (HEAD by
 *   digest), whose pushed root is not the source's bytes (or, filtered, not the source's
 *   children for those platforms), or whose tag does not point at it (uncontended tags);
 * - regressed: a contended tag that does not point at the newest submitted job among those that
 *   succeeded.
 */
import type { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { RegistryClient } from "../../lib/registry/client.ts";
import { type Distribution, freePort, startDistribution } from "./distribution.ts";
import { FAULT_KINDS, type FaultCounts, type FaultProxy, type FaultRates, seededRandom, startFaultProxy } from "./fault-proxy.ts";
import { type ManifestSpec, pushImage, randomIndex } from "./images.ts";
import { spawnServe } from "./serve-process.ts";

export interface ChaosOptions {
  /** Seeds every random choice: images, schedule, kill moments, faults (default 1). */
  seed?: number;
  /** Jobs to have accepted, contended ones included (default 60). */
  jobs?: number;
  /** SIGKILL + restart cycles while jobs run (default 5). */
  restarts?: number;
  /** Distinct source images behind the uncontended jobs (default 8). */
  images?: number;
  /** Destination tags that several jobs race for (default 1)… */
  contendedTags?: number;
  /** …and the jobs per such tag, each with its own source image (default 10). */
  jobsPerContendedTag?: number;
  /** Extra deliveries of a job's dedupKey, at once or later (default jobs / 5). */
  duplicates?: number;
  /** Fault rates of each proxy while the chaos lasts. */
  rates?: FaultRates;
  /**
   * Outages: a registry (the destination and the source in turn) fails every request (503, 429
   * or reset) for a while, so handlers fail, messages are redelivered and may reach their last
   * delivery (default 2).
   */
  outages?: number;
  /** Milliseconds an outage lasts: [min, max] (default [3000, 8000]). */
  outageMs?: [number, number];
  /** Seconds a stall holds an answer (default 3, above the 2 s stallTimeout ferry is given). */
  stallSeconds?: number;
  /** Milliseconds from a (re)start to the next kill: [min, max] (default [1500, 4000]). */
  killAfterMs?: [number, number];
  /** Milliseconds the submissions are spread over and the faults last, at least (default: about what the kills take). */
  windowMs?: number;
  /** How long, faults off, every job may take to become final (default 180 s). */
  settleMs?: number;
  /** Runs ferry serve with `--data-dir` (default true); false runs it `--in-memory`, to check the harness itself. */
  dataDir?: boolean;
  /** Appends ferry serve's stderr to this file (default: inside the run's temp dir, removed). */
  serveLog?: string;
  /** The ferry entry point (default bin/ferry.js). */
  entry?: string;
  /** Progress and detail lines (default: none). */
  log?: (line: string) => void;
}

export interface ChaosFailedJob {
  id: string;
  code: string;
  side?: string;
  message: string;
}

export interface ChaosResult {
  /** Distinct accepted job ids. */
  jobs: number;
  restarts: number;
  /** One line per kill: when, and how much was going on. */
  kills: string[];
  /** One line per outage. */
  outages: string[];
  /** ferry serve exits nobody asked for. */
  crashes: number;
  /** 202s for a dedupKey after its first (each must name the same job). */
  duplicates: number;
  /** Jobs racing for a contended tag. */
  contended: number;
  faults: { source: FaultCounts; destination: FaultCounts; total: number; byKind: Record<string, number> };
  lost: string[];
  stranded: Array<{ id: string; status: string; detail?: string }>;
  corrupt: Array<{ id: string; problems: string[] }>;
  regressed: Array<{ tag: string; want?: string; got?: string; detail: string }>;
  /** A dedupKey answered with two different job ids. */
  duplicateMismatches: string[];
  failed: ChaosFailedJob[];
  succeeded: number;
  skipped: number;
  /** Observations that break no figure but look wrong (e.g. a failed job moved a tag). */
  notes: string[];
  /** POSTs that got no answer (serve killed or down) and were sent again. */
  unansweredPosts: number;
  settleMs: number;
  /** The figures line. */
  line: string;
}

const FINAL = new Set(["succeeded", "failed", "skipped"]);
const TOKEN = "chaos-token";
const ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

interface JobSpec {
  /** Position in the whole plan (for messages). */
  n: number;
  key: string;
  image: ManifestSpec;
  /** Source reference through the source proxy. */
  source: string;
  /** Destination repository (path only) and tag. */
  repo: string;
  tag: string;
  platforms?: string[];
  dedupKey?: string;
  /** Set for contended jobs: the tag raced for and this job's place in submission order. */
  race?: { tag: string; order: number };
  id?: string;
}

type Action = { kind: "submit"; specs: JobSpec[]; copies: number; gapMs: number } | { kind: "again"; spec: JobSpec };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha256 = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

interface IndexEntry {
  digest: string;
  size: number;
  mediaType: string;
  platform?: { os: string; architecture: string; variant?: string };
}

/** Index entries of a generated image (empty for a single manifest). */
function entriesOf(m: ManifestSpec): IndexEntry[] {
  const obj = JSON.parse(m.bytes.toString("utf8")) as { manifests?: IndexEntry[] };
  return obj.manifests ?? [];
}

/** Same rule as `--platform`: os and arch equal, variant equal when the filter names one. */
function platformWanted(filter: string[], p: IndexEntry["platform"]): boolean {
  if (!p) return false;
  return filter.some((f) => {
    const [os, arch, variant] = f.split("/");
    return p.os === os && p.architecture === arch && (!variant || p.variant === variant);
  });
}

/** The code, side and message of a job's error, whether a string or `{code, side, message}`. */
export function parseJobError(error: unknown): { code: string; side?: string; message: string } {
  if (error && typeof error === "object") {
    const e = error as { code?: unknown; side?: unknown; message?: unknown };
    return { code: String(e.code ?? "?"), ...(e.side ? { side: String(e.side) } : {}), message: String(e.message ?? JSON.stringify(error)) };
  }
  if (typeof error === "string") {
    const code = /\[([A-Z_]+)/.exec(error)?.[1] ?? "?";
    const side = /\b(source|destination):/.exec(error)?.[1];
    return { code, ...(side ? { side } : {}), message: error };
  }
  return { code: "NONE", message: "failed without an error" };
}

/** The figures line. */
export function chaosLine(r: Omit<ChaosResult, "line">): string {
  const kinds = FAULT_KINDS.map((k) => `${k}=${r.faults.byKind[k] ?? 0}`).join(",");
  return (
    `chaos: jobs=${r.jobs} restarts=${r.restarts} faults=${r.faults.total} (${kinds}) ` +
    `lost=${r.lost.length} stranded=${r.stranded.length} corrupt=${r.corrupt.length} regressed=${r.regressed.length} ` +
    `failed=${r.failed.length} succeeded=${r.succeeded} skipped=${r.skipped} ` +
    `duplicates=${r.duplicates} contended=${r.contended} crashes=${r.crashes}`
  );
}

/** Ends the chaos: pending pauses return at once and loops see `stopped`. */
class Stopper {
  stopped = false;
  private readonly wakers = new Set<() => void>();

  sleep(ms: number): Promise<void> {
    if (this.stopped || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(t);
        this.wakers.delete(wake);
        resolve();
      };
      const t = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }

  stop(): void {
    this.stopped = true;
    for (const w of [...this.wakers]) w();
  }
}

/** ferry serve under supervision: kill -9 on demand, restarts, and exits nobody asked for. */
class ServeSupervisor {
  child: ChildProcess | undefined;
  kills = 0;
  crashes: string[] = [];
  /** Between a planned kill and its restart: nobody else restarts serve then. */
  restarting = false;
  /** Set by the killer: the next POST fires it, so the kill lands while a request is in flight. */
  armed: (() => void) | undefined;
  private starting: Promise<void> | undefined;
  private killing = false;
  /** Stopped for good: no more starts. */
  private closed = false;
  private tail = "";

  constructor(
    private readonly spawnOnce: (onStderr: (c: Buffer) => void) => Promise<ChildProcess>,
    private readonly logStream: WriteStream,
  ) {}

  private onStderr = (c: Buffer) => {
    this.logStream.write(c);
    this.tail = (this.tail + c.toString()).slice(-6000);
  };

  stderrTail(): string {
    return this.tail;
  }

  running(): boolean {
    const c = this.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  /** Starts ferry serve unless it runs; one start at a time. */
  async up(): Promise<void> {
    if (this.running()) return;
    this.starting ??= this.start().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  /** Restarts serve after an exit nobody asked for; a planned restart is left to the killer. */
  async recover(): Promise<void> {
    if (!this.restarting) await this.up();
  }

  private async start(): Promise<void> {
    if (this.closed) throw new Error("ferry serve: the chaos run is over");
    this.logStream.write(`\n===== chaos: ferry serve starting at ${new Date().toISOString()} =====\n`);
    let child: ChildProcess;
    try {
      child = await this.spawnOnce(this.onStderr);
    } catch (e) {
      throw new Error(`${(e as Error).message}; its stderr ends with:\n${this.tail.slice(-2000)}`);
    }
    child.once("exit", (code, signal) => {
      if (!this.killing) this.crashes.push(`exit code ${code} signal ${signal} at ${new Date().toISOString()}`);
    });
    this.child = child;
    if (this.closed) {
      await this.terminate();
      throw new Error("ferry serve: the chaos run is over");
    }
  }

  /** SIGKILL, and wait until it is gone. */
  async kill9(): Promise<void> {
    const c = this.child;
    if (!c || !this.running()) return;
    this.killing = true;
    const gone = new Promise((r) => c.once("exit", r));
    c.kill("SIGKILL");
    await gone;
    this.killing = false;
    this.kills++;
    this.logStream.write(`\n===== chaos: SIGKILL at ${new Date().toISOString()} =====\n`);
  }

  /** Stops serve for good (a start under way included): SIGTERM, then SIGKILL after 5 s. */
  async stop(): Promise<void> {
    this.closed = true;
    await this.starting?.catch(() => undefined);
    await this.terminate();
  }

  private async terminate(): Promise<void> {
    const c = this.child;
    if (!c || !this.running()) return;
    this.killing = true;
    const gone = new Promise((r) => c.once("exit", r));
    c.kill("SIGTERM");
    const t = setTimeout(() => c.kill("SIGKILL"), 5000);
    await gone;
    clearTimeout(t);
  }
}

/** Runs one chaos session; see the module comment. Cleans up everything it started. */
export async function runChaos(opts: ChaosOptions = {}): Promise<ChaosResult> {
  const seed = opts.seed ?? 1;
  const totalJobs = opts.jobs ?? 60;
  const restarts = opts.restarts ?? 5;
  const nImages = opts.images ?? 8;
  const contendedTags = opts.contendedTags ?? 1;
  const perTag = opts.jobsPerContendedTag ?? 10;
  const nDuplicates = opts.duplicates ?? Math.floor(totalJobs / 5);
  const rates = opts.rates ?? { "503": 0.03, "429": 0.02, reset: 0.02, cut: 0.02, stall: 0.01 };
  const [killMin, killMax] = opts.killAfterMs ?? [1500, 4000];
  const settleMs = opts.settleMs ?? 180_000;
  const nOutages = opts.outages ?? 2;
  const [outageMin, outageMax] = opts.outageMs ?? [3000, 8000];
  const log = opts.log ?? (() => {});
  const entry = opts.entry ?? fileURLToPath(new URL("../../bin/ferry.js", import.meta.url));
  // One stream per concern, so the schedule and each kind of moment replay for a seed whatever
  // the timing of the others.
  const stream = (salt: number) => {
    const r = seededRandom(seed * 7919 + salt);
    return (a: number, b: number) => a + r() * (b - a);
  };
  const random = seededRandom(seed);
  const [gapAt, killAt, outageAt, postKillAt] = [stream(1), stream(2), stream(3), stream(4)];
  const stopper = new Stopper();
  const pause = (ms: number) => stopper.sleep(ms);
  if (totalJobs < contendedTags * perTag) throw new Error(`jobs (${totalJobs}) < contended jobs (${contendedTags * perTag})`);

  const cleanups: Array<() => Promise<unknown>> = [];
  const dir = await mkdtemp(join(tmpdir(), "ferry-chaos-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const logStream = createWriteStream(opts.serveLog ?? join(dir, "serve.log"), { flags: "a" });
  cleanups.push(() => new Promise((r) => logStream.end(r)));
  let supervisor: ServeSupervisor | undefined;
  try {
    // Registries and proxies.
    const [src, dst] = await Promise.all([startDistribution(), startDistribution()]);
    cleanups.push(
      () => src.stop(),
      () => dst.stop(),
    );
    const stallSeconds = opts.stallSeconds ?? 3;
    const [srcProxy, dstProxy] = await Promise.all([
      startFaultProxy(src.host, { seed: seed * 2 + 1, stallSeconds }),
      startFaultProxy(dst.host, { seed: seed * 2 + 2, stallSeconds }),
    ]);
    cleanups.push(
      () => srcProxy.stop(),
      () => dstProxy.stop(),
    );

    // Source images, pushed straight into the source registry.
    const specs = await prepareJobs({ src, srcProxy, dstProxy, seed, totalJobs, nImages, contendedTags, perTag, random });
    log(`chaos: ${specs.length} jobs planned (${contendedTags * perTag} on ${contendedTags} contended tag(s)), seed ${seed}`);

    // ferry serve.
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const config = join(dir, "ferry.yml");
    await writeFile(
      config,
      [
        "version: 1",
        `api: { token: ${TOKEN}, allow: [{ source: "127.0.0.1:*/**", destinations: ["127.0.0.1:*/**"] }] }`,
        "registries:",
        `  - { host: "${srcProxy.host}", plainHttp: true }`,
        `  - { host: "${dstProxy.host}", plainHttp: true }`,
        "pipeline: { visibilityTimeout: 2, maxReceiveCount: 5, copyConcurrency: 4, tagLease: 3, reconcileEvery: 2, stuckAfter: 4 }",
        "transfer: { stallTimeout: 2, speedTime: 2 }",
        "",
      ].join("\n"),
    );
    const args = opts.dataDir === false ? ["--in-memory"] : ["--data-dir", join(dir, "data")];
    const sup = new ServeSupervisor((onStderr) => spawnServe(entry, config, port, { args, onStderr, timeoutMs: 60_000 }), logStream);
    supervisor = sup;
    await sup.up();

    // The API, with retries across kills.
    let unansweredPosts = 0;
    const callApi = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        parsed = { raw: text.slice(0, 200) };
      }
      return { status: res.status, body: parsed };
    };
    /** POSTs until a 202; a POST without an answer is sent again (the same dedupKey, or a new job). */
    const submit = async (spec: JobSpec): Promise<string> => {
      const body = {
        source: spec.source,
        destinations: [`${dstProxy.host}/${spec.repo}:${spec.tag}`],
        ...(spec.platforms ? { platforms: spec.platforms } : {}),
        ...(spec.dedupKey ? { dedupKey: spec.dedupKey } : {}),
      };
      const until = Date.now() + 120_000;
      for (;;) {
        await sup.recover(); // throws when ferry serve cannot start: nothing to retry then
        let r: { status: number; body: Record<string, unknown> } | undefined;
        const fire = sup.armed;
        if (fire) {
          sup.armed = undefined;
          setTimeout(fire, postKillAt(0, 20));
        }
        try {
          r = await callApi("POST", "/replications", body);
        } catch {
          unansweredPosts++; // killed or down: the job may or may not exist; ask again
        }
        if (r?.status === 202 && typeof r.body.id === "string") return r.body.id;
        if (r && r.status >= 400 && r.status < 500) throw new Error(`POST /replications for job #${spec.n} answered ${r.status}: ${JSON.stringify(r.body)}`);
        if (r) log(`chaos: POST for job #${spec.n} answered ${r.status} ${JSON.stringify(r.body).slice(0, 200)}; again`);
        if (Date.now() > until) throw new Error(`job #${spec.n} not accepted within 120 s`);
        await sleep(200);
      }
    };

    // The schedule: every job once (some delivered twice at once), contended jobs in bursts in a
    // known order, later duplicates, spread over the time the kills take.
    const actions = schedule(specs, nDuplicates, random);
    const window = opts.windowMs ?? restarts * ((killMin + killMax) / 2 + 1000);
    const meanGap = Math.max(20, window / Math.max(1, actions.length));
    const byKey = new Map<string, Set<string>>();
    let duplicates = 0;
    const accepted = (spec: JobSpec, id: string) => {
      if (spec.id === undefined) spec.id = id;
      if (!spec.dedupKey) return;
      const ids = byKey.get(spec.dedupKey) ?? new Set<string>();
      if (ids.size > 0 || spec.id !== id) duplicates++;
      ids.add(id);
      byKey.set(spec.dedupKey, ids);
    };
    const submitter = async () => {
      for (const a of actions) {
        if (a.kind === "submit") {
          for (const spec of a.specs) {
            const ids = await Promise.all(Array.from({ length: a.copies }, () => submit(spec)));
            for (const id of ids) accepted(spec, id);
            if (a.gapMs) await pause(a.gapMs);
          }
        } else {
          accepted(a.spec, await submit(a.spec));
        }
        await pause(gapAt(0, 2 * meanGap));
      }
    };
    const killLog: string[] = [];
    const killer = async () => {
      const t0 = Date.now();
      while (sup.kills < restarts && !stopper.stopped) {
        await pause(killAt(killMin, killMax));
        if (stopper.stopped) break;
        let nonFinal = "?";
        try {
          const r = await callApi("GET", "/replications?limit=100");
          const jobs = (r.body.jobs as Array<{ status: string }> | undefined) ?? [];
          nonFinal = String(jobs.filter((j) => !FINAL.has(j.status)).length);
        } catch {
          // serve is busy or down: the kill goes ahead anyway
        }
        // Every other kill waits for a POST (up to 3 s) and lands 0–20 ms after it is sent.
        let atPost = false;
        if (sup.kills % 2 === 1) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, 3000);
            sup.armed = () => {
              clearTimeout(t);
              atPost = true;
              resolve();
            };
          });
          sup.armed = undefined;
        }
        const acceptedSoFar = specs.filter((s) => s.id !== undefined).length;
        sup.restarting = true;
        await sup.kill9();
        const line = `kill -9 #${sup.kills} at ${((Date.now() - t0) / 1000).toFixed(1)} s${atPost ? " (a POST in flight)" : ""}: ${acceptedSoFar} jobs accepted so far, ${nonFinal} non-final of the latest 100`;
        killLog.push(line);
        log(`chaos: ${line}`);
        await pause(killAt(100, 1000));
        try {
          await sup.up();
        } finally {
          sup.restarting = false;
        }
      }
    };
    const outageLog: string[] = [];
    const outager = async () => {
      const starts = Array.from({ length: nOutages }, () => outageAt(0.1, 0.8) * window).sort((a, b) => a - b);
      for (const [i, at] of starts.entries()) {
        await pause(at - (Date.now() - chaosStart));
        if (stopper.stopped) break;
        const [name, proxy] = i % 2 === 0 ? (["destination", dstProxy] as const) : (["source", srcProxy] as const);
        const ms = outageAt(outageMin, outageMax);
        const from = Date.now() - chaosStart; // later than planned when the previous outage ran long
        proxy.setRates({ "503": 0.6, "429": 0.2, reset: 0.2 });
        await pause(ms);
        proxy.setRates(rates);
        const line = `outage #${i + 1}: the ${name} registry failed every request for ${(ms / 1000).toFixed(1)} s from ${(from / 1000).toFixed(1)} s`;
        outageLog.push(line);
        log(`chaos: ${line}`);
      }
    };
    srcProxy.setRates(rates);
    dstProxy.setRates(rates);
    const chaosStart = Date.now();
    try {
      await Promise.all([submitter(), killer(), outager()]);
      await pause(window - (Date.now() - chaosStart));
    } finally {
      stopper.stop();
    }
    srcProxy.setRates({});
    dstProxy.setRates({});
    log(`chaos: submissions and kills done after ${((Date.now() - chaosStart) / 1000).toFixed(1)} s; faults off, waiting for every job to be final`);

    // Settle: every accepted job final (or 404) within settleMs.
    const t0 = Date.now();
    const views = new Map<string, { status: number; body: Record<string, unknown> }>();
    const ids = [...new Set(specs.map((s) => s.id as string))];
    const settled = (id: string) => {
      const v = views.get(id);
      return v !== undefined && (v.status === 404 || (v.status === 200 && FINAL.has(String(v.body.status))));
    };
    for (;;) {
      const pending = ids.filter((id) => !settled(id));
      if (pending.length === 0) break;
      if (Date.now() - t0 > settleMs) break;
      await pool(pending, 8, async (id) => {
        try {
          await sup.up();
          views.set(id, await callApi("GET", `/replications/${id}`));
        } catch {
          // down or busy: asked again next round
        }
      });
      if (ids.every(settled)) break;
      await sleep(1000);
    }
    const settleTook = Date.now() - t0;
    log(`chaos: settled in ${(settleTook / 1000).toFixed(1)} s`);

    // Judge.
    const lost: string[] = [];
    const stranded: ChaosResult["stranded"] = [];
    const failed: ChaosFailedJob[] = [];
    const corrupt: ChaosResult["corrupt"] = [];
    const notes: string[] = [];
    let succeeded = 0;
    let skipped = 0;
    const registry = directRegistry(dst.host);
    for (const spec of uniqueById(specs)) {
      const id = spec.id as string;
      const v = views.get(id);
      if (v?.status === 404) {
        lost.push(id);
        continue;
      }
      const status = v?.status === 200 ? String(v.body.status) : `GET answered ${v?.status ?? "nothing"}`;
      if (v?.status !== 200 || !FINAL.has(status)) {
        stranded.push({ id, status, detail: describeStranded(v?.body) });
        continue;
      }
      if (v.body.source !== spec.source) {
        corrupt.push({ id, problems: [`job shows source ${String(v.body.source)}, submitted ${spec.source}`] });
        continue;
      }
      if (status === "failed") {
        failed.push({ id, ...parseJobError(v.body.error) });
        continue;
      }
      if (status === "succeeded") succeeded++;
      else skipped++;
      const problems = await verifyJob(registry, spec, status, v.body);
      if (problems.length) corrupt.push({ id, problems });
    }

    // Contended tags: the newest submitted job that succeeded owns the tag.
    const regressed: ChaosResult["regressed"] = [];
    for (let c = 0; c < contendedTags; c++) {
      const tag = `chaos/race-${c}:latest`;
      const racers = specs.filter((s) => s.race?.tag === tag).sort((a, b) => (a.race?.order ?? 0) - (b.race?.order ?? 0));
      const statusOf = (s: JobSpec) => String(views.get(s.id as string)?.body.status ?? "?");
      const winners = racers.filter((s) => ["succeeded", "skipped"].includes(statusOf(s)));
      const newest = winners.at(-1);
      const got = await registry.manifestDigest(`chaos/race-${c}`, "latest");
      const owner = racers.find((s) => s.image.digest === got);
      const who = (s: JobSpec | undefined) => (s ? `job #${s.race?.order} ${s.id} (${statusOf(s)})` : "no job of this race");
      const superseded = racers.filter((s) => {
        const result = views.get(s.id as string)?.body.result as { destinations?: Array<{ superseded?: boolean }> } | undefined;
        return result?.destinations?.some((d) => d.superseded);
      }).length;
      log(
        `chaos: race for ${tag}: ${racers.length} jobs, ${winners.length} succeeded, ${superseded} left the tag to a newer event; the tag is at ${who(owner)}`,
      );
      if (!newest) {
        notes.push(`${tag}: no racing job succeeded; the tag is ${got ?? "absent"} (${who(owner)})`);
        continue;
      }
      if (got !== newest.image.digest) {
        if (owner && (owner.race?.order ?? 0) > (newest.race?.order ?? 0)) {
          notes.push(`${tag}: points at ${who(owner)}, newer than the newest that succeeded, ${who(newest)}: a job that did not succeed moved the tag`);
        } else {
          regressed.push({ tag, want: newest.image.digest, ...(got ? { got } : {}), detail: `want ${who(newest)}, got ${got ?? "no tag"} from ${who(owner)}` });
        }
      }
      if (got && owner) {
        const problems = await verifyTree(registry, `chaos/race-${c}`, got, owner.image, undefined);
        if (problems.length) corrupt.push({ id: `tag ${tag}`, problems });
      }
    }

    const sourceFaults = srcProxy.faults();
    const destinationFaults = dstProxy.faults();
    const byKind: Record<string, number> = {};
    for (const k of FAULT_KINDS) byKind[k] = sourceFaults[k] + destinationFaults[k];
    const mismatches = [...byKey.entries()].filter(([, s]) => s.size > 1).map(([k, s]) => `${k}: ${[...s].join(", ")}`);
    const partial: Omit<ChaosResult, "line"> = {
      jobs: ids.length,
      restarts: sup.kills,
      kills: killLog,
      outages: outageLog,
      crashes: sup.crashes.length,
      duplicates,
      contended: specs.filter((s) => s.race).length,
      faults: { source: sourceFaults, destination: destinationFaults, total: sourceFaults.total + destinationFaults.total, byKind },
      lost,
      stranded,
      corrupt,
      regressed,
      duplicateMismatches: mismatches,
      failed,
      succeeded,
      skipped,
      notes,
      unansweredPosts,
      settleMs: settleTook,
    };
    const result: ChaosResult = { ...partial, line: chaosLine(partial) };
    report(result, sup, log);
    return result;
  } finally {
    stopper.stop();
    await supervisor?.stop().catch(() => undefined);
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }
}

/** Detail lines for whatever went wrong, then the figures line. */
function report(r: ChaosResult, sup: ServeSupervisor, log: (s: string) => void): void {
  const f = (c: FaultCounts) => FAULT_KINDS.map((k) => `${k}=${c[k]}`).join(",");
  log(
    `chaos: faults on the source proxy ${r.faults.source.total} (${f(r.faults.source)}), on the destination proxy ${r.faults.destination.total} (${f(r.faults.destination)})`,
  );
  log(`chaos: ${r.unansweredPosts} POSTs got no answer and were sent again; ${r.duplicates} duplicate deliveries`);
  for (const c of sup.crashes) log(`chaos: ferry serve exited by itself: ${c}`);
  if (r.lost.length) log(`chaos: lost (404): ${r.lost.join(" ")}`);
  for (const s of r.stranded) log(`chaos: stranded ${s.id}: ${s.status}${s.detail ? ` ${s.detail}` : ""}`);
  for (const c of r.corrupt) log(`chaos: corrupt ${c.id}: ${c.problems.join("; ")}`);
  for (const g of r.regressed) log(`chaos: regressed ${g.tag}: ${g.detail}`);
  for (const m of r.duplicateMismatches) log(`chaos: one dedupKey, several jobs: ${m}`);
  const codes = new Map<string, number>();
  for (const x of r.failed) codes.set(`${x.code}${x.side ? `/${x.side}` : ""}`, (codes.get(`${x.code}${x.side ? `/${x.side}` : ""}`) ?? 0) + 1);
  if (r.failed.length) log(`chaos: failed by code: ${[...codes.entries()].map(([k, n]) => `${k}×${n}`).join(", ")}`);
  for (const x of r.failed) log(`chaos: failed ${x.id}: [${x.code}${x.side ? ` ${x.side}` : ""}] ${x.message.slice(0, 300)}`);
  for (const n of r.notes) log(`chaos: note: ${n}`);
  log(r.line);
}

function describeStranded(body: Record<string, unknown> | undefined): string | undefined {
  if (!body) return undefined;
  const parts: string[] = [];
  if (body.progress) parts.push(`progress ${JSON.stringify(body.progress)}`);
  if (body.updatedAt) parts.push(`updated ${String(body.updatedAt)}`);
  const tasks = (body.tasks as Array<{ platform?: string; state?: string; error?: unknown }> | undefined) ?? [];
  const open = tasks.filter((t) => t.state !== "done");
  if (open.length) parts.push(`tasks ${open.map((t) => `${t.platform}:${t.state}${t.error ? `(${JSON.stringify(t.error).slice(0, 120)})` : ""}`).join(", ")}`);
  if (body.error) parts.push(`error ${JSON.stringify(body.error).slice(0, 200)}`);
  return parts.join("; ") || undefined;
}

function uniqueById(specs: JobSpec[]): JobSpec[] {
  const seen = new Set<string>();
  return specs.filter((s) => {
    if (s.id === undefined || seen.has(s.id)) return false;
    seen.add(s.id);
    return true;
  });
}

async function pool<T>(items: T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

/** Generates and pushes the images, and lays out the jobs. */
async function prepareJobs(x: {
  src: Distribution;
  srcProxy: FaultProxy;
  dstProxy: FaultProxy;
  seed: number;
  totalJobs: number;
  nImages: number;
  contendedTags: number;
  perTag: number;
  random: () => number;
}): Promise<JobSpec[]> {
  const client = new RegistryClient({ host: x.src.host, plainHttp: true });
  const images: ManifestSpec[] = [];
  for (let k = 0; k < x.nImages; k++) {
    images.push(randomIndex({ platforms: k % 3 === 0 ? 3 : 2, layers: 1 + (k % 2), layerSize: 1024 + 512 * k, seed: `chaos-${x.seed}-img-${k}` }));
  }
  // Older racers are bigger (more platforms, larger layers), so they tend to reach their merge
  // after newer ones: the ordering guard, not the arrival order, must decide the tag.
  const racers: ManifestSpec[][] = [];
  for (let c = 0; c < x.contendedTags; c++) {
    racers.push(
      Array.from({ length: x.perTag }, (_, m) => {
        const older = (x.perTag - 1 - m) / Math.max(1, x.perTag - 1); // 1 for the first, 0 for the last
        return randomIndex({
          platforms: 1 + Math.round(3 * older),
          layers: 2,
          layerSize: 1024 + Math.round(60_000 * older),
          seed: `chaos-${x.seed}-race-${c}-${m}`,
        });
      }),
    );
  }
  const pushes: Array<() => Promise<void>> = [
    ...images.map((img, k) => () => pushImage(client, `chaos/img-${k}`, "v1", img)),
    ...racers.flatMap((list, c) => list.map((img, m) => () => pushImage(client, `chaos/race-src-${c}-${m}`, "v1", img))),
  ];
  await pool(pushes, 4, (p) => p());
  await client.close();

  const specs: JobSpec[] = [];
  const uncontended = x.totalJobs - x.contendedTags * x.perTag;
  for (let i = 0; i < uncontended; i++) {
    const k = i % x.nImages;
    const image = images[k] as ManifestSpec;
    // Every sixth job asks for some platforms only; every fourth has no dedupKey (a new job per POST).
    const platforms = i % 6 === 5 ? (entriesOf(image).length > 2 ? ["linux/amd64", "linux/arm/v7"] : ["linux/amd64"]) : undefined;
    specs.push({
      n: specs.length,
      key: `job-${i}`,
      image,
      source: `${x.srcProxy.host}/chaos/img-${k}:v1`,
      repo: `chaos/out-${k}`,
      tag: `job-${i}`,
      ...(platforms ? { platforms } : {}),
      ...(i % 4 === 3 ? {} : { dedupKey: `chaos-${x.seed}-job-${i}` }),
    });
  }
  racers.forEach((list, c) => {
    list.forEach((image, m) => {
      specs.push({
        n: specs.length,
        key: `race-${c}-${m}`,
        image,
        source: `${x.srcProxy.host}/chaos/race-src-${c}-${m}:v1`,
        repo: `chaos/race-${c}`,
        tag: "latest",
        dedupKey: `chaos-${x.seed}-race-${c}-${m}`,
        race: { tag: `chaos/race-${c}:latest`, order: m },
      });
    });
  });
  return specs;
}

/**
 * Orders the submissions: uncontended jobs shuffled, each contended tag's jobs as one burst (in
 * order, a few ms apart so their event times differ) at a random place, some first deliveries
 * doubled (two POSTs at once), and later duplicates placed after their original.
 */
function schedule(specs: JobSpec[], nDuplicates: number, random: () => number): Action[] {
  const shuffle = <T>(xs: T[]): T[] => {
    const a = [...xs];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [a[i], a[j]] = [a[j] as T, a[i] as T];
    }
    return a;
  };
  const keyed = shuffle(specs.filter((s) => s.dedupKey));
  const doubled = new Set(keyed.slice(0, Math.ceil(nDuplicates / 2)));
  const later = keyed.slice(Math.ceil(nDuplicates / 2), nDuplicates);
  const actions: Action[] = shuffle(specs.filter((s) => !s.race)).map((s) => ({ kind: "submit", specs: [s], copies: doubled.has(s) ? 2 : 1, gapMs: 0 }));
  const races = new Map<string, JobSpec[]>();
  for (const s of specs) if (s.race) races.set(s.race.tag, [...(races.get(s.race.tag) ?? []), s]);
  for (const list of races.values()) {
    // Not at the very start, so the race overlaps kills.
    const at = Math.floor(actions.length * (0.2 + 0.6 * random()));
    actions.splice(at, 0, { kind: "submit", specs: list, copies: 1, gapMs: 5 });
  }
  // Doubled racers deliver twice later instead (a burst must keep its order).
  for (const s of [...doubled].filter((x) => x.race)) later.push(s);
  for (const s of later) {
    const first = actions.findIndex((a) => a.kind === "submit" && a.specs.includes(s));
    const at = first + 1 + Math.floor(random() * (actions.length - first));
    actions.splice(at, 0, { kind: "again", spec: s });
  }
  return actions;
}

/** Reads the destination registry directly, never through the proxy. */
function directRegistry(host: string) {
  const get = async (path: string, method: "GET" | "HEAD"): Promise<{ status: number; headers: Headers; body: Buffer }> => {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await fetch(`http://${host}/v2/${path}`, { method, headers: { accept: ACCEPT }, signal: AbortSignal.timeout(15_000) });
        const body = method === "GET" ? Buffer.from(await res.arrayBuffer()) : Buffer.alloc(0);
        if (method === "HEAD") await res.body?.cancel();
        return { status: res.status, headers: res.headers, body };
      } catch (e) {
        if (attempt >= 2) throw e;
        await sleep(200);
      }
    }
  };
  return {
    get,
    /** The digest a tag or digest resolves to, or undefined when absent. */
    async manifestDigest(repo: string, ref: string): Promise<string | undefined> {
      const r = await get(`${repo}/manifests/${ref}`, "HEAD");
      return r.status === 200 ? (r.headers.get("docker-content-digest") ?? undefined) : undefined;
    },
  };
}
type DirectRegistry = ReturnType<typeof directRegistry>;

/** Problems with a succeeded or skipped uncontended job's destination (none: all is there). */
async function verifyJob(registry: DirectRegistry, spec: JobSpec, status: string, view: Record<string, unknown>): Promise<string[]> {
  const problems: string[] = [];
  const result = view.result as { digest?: string; destinations?: Array<{ digest?: string; superseded?: boolean }> } | undefined;
  const claimed = result?.destinations?.[0]?.digest ?? result?.digest;
  if (status === "succeeded" && !claimed) problems.push("succeeded without a result digest");
  if (!spec.platforms && claimed && claimed !== spec.image.digest) problems.push(`result digest ${claimed}, source ${spec.image.digest}`);
  const tagged = await registry.manifestDigest(spec.repo, spec.tag);
  // The content the job stands for: its own digest (a contended job's tag may have moved on).
  const root = spec.platforms ? (claimed ?? tagged) : spec.image.digest;
  if (!root) return [...problems, `nothing at ${spec.repo}:${spec.tag} and no result digest`];
  problems.push(...(await verifyTree(registry, spec.repo, root, spec.image, spec.platforms)));
  if (!spec.race && tagged !== root) problems.push(`${spec.repo}:${spec.tag} points at ${tagged ?? "nothing"}, want ${root}`);
  return problems;
}

/**
 * Problems with the tree at `repo@root`: the root must be the source's bytes (unfiltered) or an
 * index over exactly the source's children for those platforms; every child manifest and blob
 * must answer HEAD by digest with the source's digest and size.
 */
async function verifyTree(registry: DirectRegistry, repo: string, root: string, image: ManifestSpec, platforms: string[] | undefined): Promise<string[]> {
  const problems: string[] = [];
  const r = await registry.get(`${repo}/manifests/${root}`, "GET");
  if (r.status !== 200) return [`${repo}@${root}: GET answered ${r.status}`];
  if (sha256(r.body) !== root) problems.push(`${repo}@${root}: the bytes hash to ${sha256(r.body)}`);
  const sourceEntries = entriesOf(image);
  let children: ManifestSpec[];
  if (!platforms) {
    if (!r.body.equals(image.bytes)) problems.push(`${repo}@${root}: not the source's bytes`);
    children = image.children;
  } else {
    const wanted = sourceEntries.filter((e) => platformWanted(platforms, e.platform)).map((e) => e.digest);
    const obj = JSON.parse(r.body.toString("utf8")) as { manifests?: IndexEntry[] };
    const got = obj.manifests ? obj.manifests.map((e) => e.digest) : [root];
    if ([...got].sort().join() !== [...wanted].sort().join())
      problems.push(`${repo}@${root}: children ${got.join(",")}, want ${wanted.join(",")} for ${platforms.join(",")}`);
    for (const e of obj.manifests ?? []) {
      const s = sourceEntries.find((x) => x.digest === e.digest);
      if (s && (s.size !== e.size || s.mediaType !== e.mediaType)) problems.push(`${repo}@${root}: entry ${e.digest} size/mediaType differ from the source`);
    }
    children = image.children.filter((c) => wanted.includes(c.digest));
  }
  for (const c of children) {
    const h = await registry.get(`${repo}/manifests/${c.digest}`, "HEAD");
    if (h.status !== 200) problems.push(`${repo}@${c.digest} (child manifest): HEAD answered ${h.status}`);
    else if (h.headers.get("docker-content-digest") !== c.digest) problems.push(`${repo}@${c.digest}: HEAD says ${h.headers.get("docker-content-digest")}`);
    for (const b of c.blobs) {
      const bh = await registry.get(`${repo}/blobs/${b.digest}`, "HEAD");
      if (bh.status !== 200) problems.push(`${repo} blob ${b.digest}: HEAD answered ${bh.status}`);
      else if (Number(bh.headers.get("content-length")) !== b.size)
        problems.push(`${repo} blob ${b.digest}: ${bh.headers.get("content-length")} bytes, want ${b.size}`);
    }
  }
  return problems;
}
