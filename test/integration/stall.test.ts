/**
 * Stalls and deadlines against real registries: `ferry copy` from a stalling proxy in front of a
 * CNCF distribution registry fails with STALL at the source (no answer, silence after the
 * headers, a trickle) and leaves no tag at the destination; a copy whose deadline passes
 * mid-blob ends with DEADLINE and commits nothing. Short guard settings; no timing asserts.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { RegistryClient } from "../../lib/registry/client.ts";
import { RegistryPool } from "../../lib/registry/pool.ts";
import { copyImage } from "../../lib/replicate/copy.ts";
import { RegistryStore } from "../../lib/replicate/registry-store.ts";
import { rejectsWithCode } from "../helpers/assert.ts";
import { type Distribution, startDistribution } from "../helpers/distribution.ts";
import { allBlobs, pushImage, randomImage, randomIndex } from "../helpers/images.ts";
import { type StallKind, startStallProxy } from "../helpers/stall-proxy.ts";
import { startThrottleProxy } from "../helpers/throttle-proxy.ts";

const BIN = fileURLToPath(new URL("../../bin/ferry.js", import.meta.url));
let src: Distribution;
let dst: Distribution;
let tmp: string;
let dstClient: RegistryClient;
const image = randomIndex({ platforms: 2, layers: 2, layerSize: 50_000, seed: "stall" });

function ferry(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, HOME: tmp, DOCKER_CONFIG: join(tmp, "docker") } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

before(async () => {
  [src, dst] = await Promise.all([startDistribution(), startDistribution()]);
  tmp = await mkdtemp(join(tmpdir(), "ferry-stall-"));
  const c = new RegistryClient({ host: src.host });
  await pushImage(c, "app", "v1", image);
  await c.close();
  dstClient = new RegistryClient({ host: dst.host });
});
after(async () => {
  await dstClient?.close();
  await Promise.all([src?.stop(), dst?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

describe("ferry copy from a stalling source", () => {
  const cases: Array<{ kind: StallKind; what: string; flags: string[]; all?: boolean }> = [
    { kind: "no-response", what: "a source that never answers", flags: ["--stall-timeout", "1"], all: true },
    { kind: "silence", what: "blob bodies that go silent after the headers", flags: ["--stall-timeout", "1"] },
    // A byte every 2 s beats a 3 s stall timeout: only the speed check (2 s window) stops it.
    { kind: "trickle", what: "blob bodies that trickle a byte every 2 s", flags: ["--stall-timeout", "3", "--speed-time", "2"] },
  ];
  for (const c of cases) {
    it(`fails with STALL at the source for ${c.what}, and leaves no tag`, async () => {
      const proxy = await startStallProxy(src.host, { kind: c.kind, ...(c.all ? { match: () => true } : {}) });
      try {
        const r = await ferry(["copy", "-q", ...c.flags, "--speed-limit", "1024", `${proxy.host}/app:v1`, `${dst.host}/${c.kind}/app:v1`]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /\[STALL\]/);
        assert.match(r.stderr, /at the source/);
        assert.ok(proxy.stalled() > 0);
        assert.equal(await dstClient.manifestHead(`${c.kind}/app`, "v1"), undefined, "HEAD of the destination tag is 404");
      } finally {
        await proxy.stop();
      }
    });
  }

  it("refuses malformed guard flags with a usage error", async () => {
    for (const flags of [
      ["--stall-timeout", "0"],
      ["--stall-timeout", "abc"],
      ["--speed-limit", "-1"],
      ["--speed-time", "5000"],
    ]) {
      const r = await ferry(["copy", ...flags, `${src.host}/app:v1`, `${dst.host}/x/app:v1`]);
      assert.equal(r.code, 2, `${flags.join(" ")} → ${r.code}: ${r.stderr}`);
    }
  });

  it("documents the guard flags in --help", async () => {
    const r = await ferry(["copy", "--help"]);
    assert.equal(r.code, 0);
    for (const flag of ["--stall-timeout", "--speed-limit", "--speed-time"]) assert.ok(r.stdout.includes(flag), flag);
  });
});

describe("a copy's deadline", () => {
  it("aborts a blob mid-transfer with DEADLINE, long before it would finish, and commits nothing", { timeout: 60_000 }, async () => {
    const big = randomImage({ layers: 1, layerSize: 4 * 1024 * 1024, seed: "deadline" });
    const c = new RegistryClient({ host: src.host });
    await pushImage(c, "big", "v1", big);
    await c.close();
    // 200 KB/s: about 20 s for the layer, well within the stall guards.
    const slow = await startThrottleProxy(src.host, 200_000);
    const pool = new RegistryPool({ authFile: false });
    try {
      const source = new RegistryStore(pool.client(slow.host, "source"), "big");
      const sink = new RegistryStore(pool.client(dst.host, "destination"), "deadline/big");
      await rejectsWithCode(copyImage(source, "v1", sink, "v1", { deadline: Date.now() + 2000 }), "DEADLINE", (e) => assert.equal(e.retryable, true));
      assert.ok(slow.blobBytes() < 4 * 1024 * 1024, "the layer was still on its way");
      assert.equal(await dstClient.manifestHead("deadline/big", "v1"), undefined, "no tag");
      for (const b of allBlobs(big).filter((b) => b.size > 1024 * 1024)) {
        assert.equal(await dstClient.blobHead("deadline/big", b.digest), undefined, "the layer was not committed");
      }
    } finally {
      await pool.close();
      await slow.stop();
    }
  });
});
