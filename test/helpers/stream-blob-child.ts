/**
 * Child process for the large-blob test and benchmark: pushes a generated blob of SIZE bytes into
 * SRC, then streams it SRC → DST through the registry client. Prints one JSON line with the peak
 * RSS (process.resourceUsage().maxRSS), so the parent measures a clean process.
 * Usage: node --import tsx stream-blob-child.ts SRC_HOST DST_HOST SIZE
 */
import { RegistryClient } from "../../lib/registry/client.ts";
import { randomBlob } from "./images.ts";

const [src, dst, sizeArg] = process.argv.slice(2);
if (!src || !dst || !sizeArg) throw new Error("usage: stream-blob-child.ts SRC DST SIZE");
const size = Number(sizeArg);
const rssAtStart = process.memoryUsage().rss;
const blob = randomBlob(size, `big-${size}`);
const source = new RegistryClient({ host: src, side: "source" });
const dest = new RegistryClient({ host: dst, side: "destination" });
const pushStart = Date.now();
const seed = new RegistryClient({ host: src, side: "destination" });
await seed.blobPut("big/src", blob, async () => blob.open());
const pushMs = Date.now() - pushStart;
const t0 = Date.now();
const cpu0 = process.cpuUsage();
await dest.blobPut("big/dst", blob, () => source.blobGet("big/src", blob));
const copyMs = Date.now() - t0;
const cpu = process.cpuUsage(cpu0);
const landed = await dest.blobHead("big/dst", blob.digest);
await Promise.all([source.close(), dest.close(), seed.close()]);
console.log(
  JSON.stringify({
    size,
    digest: blob.digest,
    landed,
    pushMs,
    copyMs,
    copyCpuMs: Math.round((cpu.user + cpu.system) / 1000),
    rssAtStartMB: Math.round(rssAtStart / 1048576),
    peakRssMB: Math.round((process.resourceUsage().maxRSS * 1024) / 1048576),
  }),
);
