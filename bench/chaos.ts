/**
 * The long chaos run of issue 9 ("accepted means replicated"): more jobs, more kill -9
 * restarts, higher fault rates and more contended tags than the test (test/integration/chaos.test.ts).
 * Prints what happened and the figures line; exits 1 when a job was lost, stranded, corrupt or
 * a tag regressed.
 *
 *   node --import tsx bench/chaos.ts [--seed N] [--jobs N] [--restarts N] [--contended-tags N]
 *     [--per-tag N] [--fault-scale X] [--outages N] [--stall S] [--window S] [--settle S]
 *     [--serve-log FILE] [--in-memory]
 */
import { parseArgs } from "node:util";
import { runChaos } from "../test/helpers/chaos.ts";
import type { FaultRates } from "../test/helpers/fault-proxy.ts";

const { values } = parseArgs({
  options: {
    seed: { type: "string", default: String(Date.now() % 100_000) },
    jobs: { type: "string", default: "300" },
    restarts: { type: "string", default: "20" },
    "contended-tags": { type: "string", default: "3" },
    "per-tag": { type: "string", default: "15" },
    /** Multiplies the default rates (503 5%, 429 4%, reset 4%, cut 4%, stall 2% per request). */
    "fault-scale": { type: "string", default: "1" },
    /** Registry outages (every request fails) of 3–15 s. */
    outages: { type: "string", default: "6" },
    stall: { type: "string", default: "3" },
    /** Seconds the faults last at least (default: about what the kills take). */
    window: { type: "string" },
    settle: { type: "string", default: "300" },
    "serve-log": { type: "string" },
    "in-memory": { type: "boolean", default: false },
  },
});

const scale = Number(values["fault-scale"]);
const rates: FaultRates = { "503": 0.05 * scale, "429": 0.04 * scale, reset: 0.04 * scale, cut: 0.04 * scale, stall: 0.02 * scale };
const seed = Number(values.seed);
const t0 = performance.now();
console.log(`chaos bench: seed ${seed}`);
const r = await runChaos({
  seed,
  jobs: Number(values.jobs),
  restarts: Number(values.restarts),
  contendedTags: Number(values["contended-tags"]),
  jobsPerContendedTag: Number(values["per-tag"]),
  rates,
  outages: Number(values.outages),
  outageMs: [3000, 15_000],
  stallSeconds: Number(values.stall),
  ...(values.window ? { windowMs: Number(values.window) * 1000 } : {}),
  killAfterMs: [1000, 5000],
  settleMs: Number(values.settle) * 1000,
  dataDir: !values["in-memory"],
  ...(values["serve-log"] ? { serveLog: values["serve-log"] } : {}),
  log: (line) => console.log(line),
});
console.log(`chaos bench: ${((performance.now() - t0) / 1000).toFixed(0)} s in all, settling took ${(r.settleMs / 1000).toFixed(1)} s`);
const bad = r.lost.length + r.stranded.length + r.corrupt.length + r.regressed.length + r.duplicateMismatches.length + r.crashes;
process.exit(bad === 0 && r.succeeded + r.failed.length + r.skipped === r.jobs ? 0 : 1);
