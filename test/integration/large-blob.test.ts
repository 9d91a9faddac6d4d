/**
 * A 1 GiB blob streams registry → registry through the client with flat memory. Runs in a child
 * process so its peak RSS is its own; the figure is printed for the record.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, it } from "node:test";
import { type Distribution, startDistribution } from "../helpers/distribution.ts";

const run = promisify(execFile);
const GiB = 1024 * 1024 * 1024;
const size = Number(process.env.FERRY_LARGE_BLOB_BYTES ?? GiB);
const regs: Distribution[] = [];
after(async () => {
  await Promise.all(regs.map((r) => r.stop()));
});

it(`streams a ${Math.round(size / 1048576)} MiB blob registry → registry with flat memory`, { timeout: 600_000 }, async (t) => {
  const [src, dst] = await Promise.all([startDistribution(), startDistribution()]);
  regs.push(src, dst);
  const child = fileURLToPath(new URL("../helpers/stream-blob-child.ts", import.meta.url));
  const { stdout } = await run(process.execPath, ["--import", "tsx", child, src.host, dst.host, String(size)], { maxBuffer: 1024 * 1024 });
  const r = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as {
    landed: number;
    peakRssMB: number;
    rssAtStartMB: number;
    copyMs: number;
    copyCpuMs: number;
  };
  t.diagnostic(`${Math.round(size / 1048576)} MiB copy: ${r.copyMs} ms wall, ${r.copyCpuMs} ms CPU, peak RSS ${r.peakRssMB} MB (start ${r.rssAtStartMB} MB)`);
  assert.equal(r.landed, size, "the destination holds the whole blob (it verified the digest on commit)");
  // Buffering would need > 1 GiB; streaming stays near the process's baseline.
  assert.ok(r.peakRssMB < 200, `peak RSS ${r.peakRssMB} MB`);
});
