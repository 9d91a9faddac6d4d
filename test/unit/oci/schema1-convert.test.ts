/**
 * Schema 1 → schema 2, the pure part: layers oldest first, throwaway entries out of the layers but
 * in the history (as empty layers), the same blob kept at each position, a v1 entry listed twice
 * back to back kept once; the config from the newest entry, without the v1-only fields.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FerryError } from "../../../lib/errors.ts";
import { parseManifest } from "../../../lib/oci/manifest.ts";
import { DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST } from "../../../lib/oci/media-types.ts";
import type { Schema1Manifest } from "../../../lib/oci/schema1.ts";
import { EMPTY_LAYER_GZIP, planSchema1, schema1Config, schema2Manifest } from "../../../lib/oci/schema1-convert.ts";

const code = (c: string) => (e: unknown) => e instanceof FerryError && e.code === c;
const blob = (c: string) => `sha256:${c.repeat(64)}`;
const id = (c: string) => c.repeat(64);

/** A schema 1 manifest from entries listed newest first, as schema 1 does. */
function schema1(entries: Array<[string, Record<string, unknown>]>, architecture = "amd64"): Schema1Manifest {
  return {
    kind: "schema1",
    schemaVersion: 1,
    mediaType: "application/vnd.docker.distribution.manifest.v1+prettyjws",
    name: "library/app",
    tag: "v1",
    architecture,
    fsLayers: entries.map(([b]) => b),
    history: entries.map(([, v1]) => JSON.stringify(v1)),
  };
}

const cmd = (s: string) => ({ container_config: { Cmd: ["/bin/sh", "-c", s] } });

describe("planning a schema 1 conversion", () => {
  const cases: Array<{ name: string; entries: Array<[string, Record<string, unknown>]>; layers: string[]; empty: boolean[] }> = [
    {
      name: "newest first becomes oldest first",
      entries: [
        [blob("3"), { id: id("3"), parent: id("2") }],
        [blob("2"), { id: id("2"), parent: id("1") }],
        [blob("1"), { id: id("1") }],
      ],
      layers: [blob("1"), blob("2"), blob("3")],
      empty: [false, false, false],
    },
    {
      name: "throwaway entries (flag or empty tar) leave the layers, stay in the history as empty layers",
      entries: [
        [EMPTY_LAYER_GZIP, { id: id("5"), parent: id("4"), throwaway: true }],
        [blob("4"), { id: id("4"), parent: id("3") }],
        [EMPTY_LAYER_GZIP, { id: id("3"), parent: id("2") }],
        [blob("9"), { id: id("2"), parent: id("1"), throwaway: true }],
        [blob("1"), { id: id("1") }],
      ],
      layers: [blob("1"), blob("4")],
      empty: [false, true, true, false, true],
    },
    {
      name: "the same blob at two positions stays at both",
      entries: [
        [blob("a"), { id: id("3"), parent: id("2") }],
        [blob("b"), { id: id("2"), parent: id("1") }],
        [blob("a"), { id: id("1") }],
      ],
      layers: [blob("a"), blob("b"), blob("a")],
      empty: [false, false, false],
    },
    {
      name: "one v1 entry listed twice back to back is kept once",
      entries: [
        [blob("2"), { id: id("2"), parent: id("1") }],
        [blob("2"), { id: id("2"), parent: id("1") }],
        [blob("1"), { id: id("1") }],
      ],
      layers: [blob("1"), blob("2")],
      empty: [false, false],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planSchema1(schema1(c.entries));
      assert.deepEqual(plan.layers, c.layers);
      assert.deepEqual(
        plan.history.map((h) => h.empty_layer === true),
        c.empty,
      );
      assert.equal(plan.history.filter((h) => !h.empty_layer).length, plan.layers.length, "one non-empty history entry per layer");
    });
  }

  it("refuses a v1 ID repeated apart, an entry that is not JSON, and no layers at all", () => {
    const apart = schema1([
      [blob("1"), { id: id("1") }],
      [blob("2"), { id: id("2") }],
      [blob("1"), { id: id("1") }],
    ]);
    assert.throws(() => planSchema1(apart), code("MANIFEST_INVALID"));
    const notJson = { ...schema1([[blob("1"), {}]]), history: ["{nope"] };
    assert.throws(() => planSchema1(notJson), code("MANIFEST_INVALID"));
    assert.throws(() => planSchema1(schema1([])), code("MANIFEST_INVALID"));
  });

  it("history entries: created, created_by from container_config.Cmd, author, comment; oldest first", () => {
    const plan = planSchema1(
      schema1([
        [EMPTY_LAYER_GZIP, { id: id("2"), parent: id("1"), created: "2016-01-02T00:00:00Z", ...cmd('#(nop) CMD ["sh"]'), throwaway: true }],
        [blob("1"), { id: id("1"), created: "2016-01-01T00:00:00Z", author: "me", comment: "base", ...cmd("#(nop) ADD file:x in /") }],
      ]),
    );
    assert.deepEqual(plan.history, [
      { created: "2016-01-01T00:00:00Z", created_by: "/bin/sh -c #(nop) ADD file:x in /", author: "me", comment: "base" },
      { created: "2016-01-02T00:00:00Z", created_by: '/bin/sh -c #(nop) CMD ["sh"]', empty_layer: true },
    ]);
  });
});

describe("the synthesised config and manifest", () => {
  const newest = {
    id: id("2"),
    parent: id("1"),
    parent_id: "x",
    layer_id: "y",
    throwaway: false,
    Size: 123,
    created: "2016-01-02T00:00:00Z",
    docker_version: "1.9.1",
    os: "linux",
    config: { Env: ["PATH=/bin"], Cmd: ["sh"] },
    container_config: { Cmd: ["/bin/sh", "-c", '#(nop) CMD ["sh"]'] },
  };
  const plan = planSchema1(
    schema1(
      [
        [blob("2"), newest],
        [blob("1"), { id: id("1"), created: "2016-01-01T00:00:00Z" }],
      ],
      "arm64",
    ),
  );

  it("is the newest v1 entry without its v1-only fields, with rootfs.diff_ids and history, keys sorted", () => {
    const diffIds = [blob("d"), blob("e")];
    const bytes = schema1Config(plan, diffIds);
    const cfg = JSON.parse(bytes.toString());
    for (const k of ["id", "parent", "parent_id", "layer_id", "throwaway", "Size"]) assert.equal(k in cfg, false, `${k} dropped`);
    assert.equal(cfg.architecture, "arm64", "from the manifest when the entry lacks it");
    assert.equal(cfg.os, "linux");
    assert.deepEqual(cfg.config, newest.config);
    assert.deepEqual(cfg.container_config, newest.container_config);
    assert.equal(cfg.docker_version, "1.9.1");
    assert.deepEqual(cfg.rootfs, { type: "layers", diff_ids: diffIds });
    assert.equal(cfg.history.length, 2);
    assert.deepEqual(Object.keys(cfg), [...Object.keys(cfg)].sort());
    assert.deepEqual(schema1Config(plan, diffIds), bytes, "deterministic");
    assert.throws(() => schema1Config(plan, [blob("d")]), code("INTERNAL"));
  });

  it("the manifest is Docker schema 2 naming the config and the layers in order", () => {
    const config = { mediaType: DOCKER_CONFIG, digest: blob("c"), size: 10 };
    const layers = plan.layers.map((d, i) => ({ mediaType: DOCKER_LAYER_GZIP, digest: d, size: 100 + i }));
    const raw = parseManifest(schema2Manifest(config, layers));
    assert.equal(raw.mediaType, DOCKER_MANIFEST);
    assert.ok(raw.manifest.kind === "manifest");
    assert.deepEqual(raw.manifest.config, config);
    assert.deepEqual(raw.manifest.layers, layers);
  });
});
