/**
 * The root planner, on the one table of cases (test/helpers/root-plan-cases.ts), with OCI
 * layout directories as source and destination: what it decides, and how little it reads.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { FerryError } from "../../../lib/errors.ts";
import { parsePlatform } from "../../../lib/oci/platform.ts";
import { OciLayoutStore } from "../../../lib/replicate/oci-layout.ts";
import { planRoot } from "../../../lib/replicate/root-plan.ts";
import { writeOciLayout } from "../../helpers/images.ts";
import { entryPlatforms, rootPlanCases } from "../../helpers/root-plan-cases.ts";

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function layouts(c: { source: Parameters<typeof writeOciLayout>[1]; before?: Parameters<typeof writeOciLayout>[1] }) {
  const root = await mkdtemp(join(tmpdir(), "ferry-rootplan-"));
  dirs.push(root);
  await writeOciLayout(join(root, "src"), c.source, "v1");
  if (c.before) await writeOciLayout(join(root, "dst"), c.before, "v1");
  return { source: new OciLayoutStore(join(root, "src")), sink: new OciLayoutStore(join(root, "dst")) };
}

/** Counts the manifest reads a store answers. */
function counting<T extends OciLayoutStore>(store: T): { store: T; gets: () => number } {
  let n = 0;
  const get = store.manifestGet.bind(store);
  store.manifestGet = (ref: string) => {
    n++;
    return get(ref);
  };
  return { store, gets: () => n };
}

describe("root planner: one table", () => {
  for (const c of rootPlanCases()) {
    it(c.name, async () => {
      const { source, sink } = await layouts(c);
      const run = planRoot({
        source,
        ref: "v1",
        destinations: [{ sink, tag: "v1" }],
        ...(c.platforms ? { platforms: c.platforms.map(parsePlatform) } : {}),
        ...(c.merge ? { merge: true } : {}),
      });
      if ("error" in c.expect) {
        const code = c.expect.error;
        await assert.rejects(run, (e: unknown) => e instanceof FerryError && e.code === code);
        return;
      }
      const plan = await run;
      const want = c.expect;
      const dst = plan.destinations[0];
      assert.ok(dst?.root && plan.source);
      assert.equal(plan.sourceDigest, c.source.digest);
      assert.equal(dst.upToDate, want.upToDate);
      assert.equal(dst.root.digest === c.source.digest, want.verbatim);
      assert.equal(dst.root.rebuilt, !want.verbatim);
      if (want.rootPlatforms) assert.deepEqual(entryPlatforms(dst.root.bytes), want.rootPlatforms);
      assert.equal(plan.source.children?.length, want.children);
      if (want.warning) assert.match(plan.warnings.join("\n"), want.warning);
      else assert.deepEqual(plan.warnings, []);
    });
  }
});

describe("root planner: reads only what decides", () => {
  const cases = rootPlanCases("reads");
  const verbatim = cases.find((c) => c.name === "verbatim index");
  const other = cases.find((c) => c.name === "single image");
  it("an up-to-date tag is decided by HEADs alone when asked (no manifest GET)", async () => {
    assert.ok(verbatim);
    const { source, sink } = await layouts({ source: verbatim.source, before: verbatim.source });
    const src = counting(source);
    const plan = await planRoot({ source: src.store, ref: "v1", destinations: [{ sink, tag: "v1" }], decideByHead: "up-to-date" });
    assert.equal(plan.source, undefined);
    assert.equal(plan.destinations[0]?.upToDate, true);
    assert.equal(src.gets(), 0);
  });
  it("backfill's 'decided' stops at HEADs for a stale unfiltered tag, and reads the root under a filter", async () => {
    assert.ok(verbatim && other);
    const { source, sink } = await layouts({ source: verbatim.source, before: other.source });
    const src = counting(source);
    const stale = await planRoot({
      source: src.store,
      ref: "v1",
      destinations: [
        { sink, tag: "v1" },
        { sink, tag: "absent" },
      ],
      decideByHead: "decided",
    });
    assert.deepEqual(
      stale.destinations.map((d) => d.upToDate),
      [false, false],
    );
    assert.equal(src.gets(), 0);
    const narrowed = await planRoot({
      source: src.store,
      ref: "v1",
      destinations: [{ sink, tag: "v1" }],
      platforms: [parsePlatform("linux/amd64")],
      decideByHead: "decided",
    });
    assert.equal(src.gets(), 1);
    assert.equal(narrowed.destinations[0]?.upToDate, false);
  });
});
