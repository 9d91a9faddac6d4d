/** The pushed image's config and manifest, and the command's value parsing: tables. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCommand, parseMtime } from "../../../lib/cli/push.ts";
import { FerryError } from "../../../lib/errors.ts";
import { DOCKER_LAYER_GZIP, OCI_LAYER_GZIP } from "../../../lib/oci/media-types.ts";
import { buildConfig, hostPlatform, mergeEnv } from "../../../lib/push/config.ts";
import { buildManifest } from "../../../lib/push/manifest.ts";

const D = (c: string) => `sha256:${c.repeat(64)}`;
const nonEmpty = (h: Array<{ empty_layer?: boolean }>) => h.filter((x) => !x.empty_layer).length;

describe("buildConfig", () => {
  it("without a base: platform, created from the mtime, one diff_id, one history entry", () => {
    const { config, warnings } = buildConfig({
      platform: { os: "linux", architecture: "arm", variant: "v7" },
      created: 86400,
      settings: { env: ["A=1"], cmd: ["/bin/app"], workdir: "/srv", labels: { team: "x" } },
      diffId: D("a"),
    });
    assert.deepEqual(config, {
      architecture: "arm",
      os: "linux",
      variant: "v7",
      created: "1970-01-02T00:00:00Z",
      config: { Env: ["A=1"], Cmd: ["/bin/app"], WorkingDir: "/srv", Labels: { team: "x" } },
      rootfs: { type: "layers", diff_ids: [D("a")] },
      history: [{ created: "1970-01-02T00:00:00Z", created_by: "ferry push" }],
    });
    assert.deepEqual(warnings, []);
  });

  it("on a base: keeps its fields and history, appends the diff_id and one non-empty entry, overrides by key", () => {
    const base = {
      architecture: "amd64",
      os: "linux",
      created: "2020-01-01T00:00:00Z",
      "os.features": ["x"],
      config: { Env: ["PATH=/bin", "LANG=C"], Cmd: ["sh"], Labels: { a: "1", b: "2" }, User: "1000" },
      rootfs: { type: "layers", diff_ids: [D("1"), D("2")] },
      history: [{ created_by: "ADD" }, { created_by: "ENV", empty_layer: true }, { created_by: "RUN" }],
    };
    const { config, warnings } = buildConfig({
      platform: { os: "linux", architecture: "amd64" },
      created: 0,
      settings: { env: ["PATH=/usr/bin", "NEW=1"], entrypoint: ["/e"], labels: { b: "3" } },
      diffId: D("3"),
      base: { config: base, layers: 2 },
    });
    assert.deepEqual(config.rootfs?.diff_ids, [D("1"), D("2"), D("3")]);
    assert.equal(nonEmpty(config.history ?? []), 3);
    assert.equal(config.history?.length, 4);
    assert.deepEqual(config["os.features"], ["x"]);
    assert.deepEqual(config.config, { Env: ["PATH=/usr/bin", "LANG=C", "NEW=1"], Labels: { a: "1", b: "3" }, User: "1000", Entrypoint: ["/e"] });
    assert.deepEqual(warnings, []);
  });

  it("rebuilds a base history that does not count one non-empty entry per layer (Quay's check), and says so", () => {
    for (const history of [undefined, [{ created_by: "only one" }], [{}, {}, {}]]) {
      const { config, warnings } = buildConfig({
        platform: { os: "linux", architecture: "amd64" },
        created: 0,
        settings: {},
        diffId: D("3"),
        base: { config: { rootfs: { diff_ids: [D("1"), D("2")] }, ...(history ? { history } : {}) }, layers: 2 },
      });
      assert.equal(config.history?.length, 3);
      assert.equal(nonEmpty(config.history ?? []), 3);
      assert.equal(warnings.length, 1);
    }
  });

  it("refuses a base whose diff_ids do not match its layers", () => {
    assert.throws(
      () => buildConfig({ platform: { os: "linux", architecture: "amd64" }, created: 0, settings: {}, diffId: D("3"), base: { config: {}, layers: 1 } }),
      (e: unknown) => e instanceof FerryError && e.code === "MANIFEST_INVALID" && e.side === "source",
    );
  });

  it("keeps Cmd when both --cmd and --entrypoint are given", () => {
    const { config } = buildConfig({
      platform: { os: "linux", architecture: "amd64" },
      created: 0,
      settings: { entrypoint: ["/e"], cmd: ["-v"] },
      diffId: D("1"),
      base: { config: { config: { Cmd: ["sh"] }, rootfs: { diff_ids: [] } }, layers: 0 },
    });
    assert.deepEqual(config.config, { Entrypoint: ["/e"], Cmd: ["-v"] });
  });
});

describe("mergeEnv and hostPlatform", () => {
  it("replaces keys in place and appends new ones", () => {
    assert.deepEqual(mergeEnv(["A=1", "B=2"], ["B=3", "C=", "A=x=y"]), ["A=x=y", "B=3", "C="]);
  });
  it("names CPUs as images do", () => {
    assert.deepEqual(hostPlatform("x64"), { os: "linux", architecture: "amd64" });
    assert.deepEqual(hostPlatform("arm64"), { os: "linux", architecture: "arm64" });
    assert.deepEqual(hostPlatform("arm", "6"), { os: "linux", architecture: "arm", variant: "v6" });
    assert.deepEqual(hostPlatform("ppc64"), { os: "linux", architecture: "ppc64le" });
    assert.throws(
      () => hostPlatform("vax"),
      (e: unknown) => e instanceof FerryError && e.code === "USAGE",
    );
  });
});

describe("buildManifest", () => {
  it("maps the base's gzip layers to the chosen format, adds base annotations to OCI only", () => {
    const input = {
      configBytes: Buffer.from("{}"),
      baseLayers: [
        { mediaType: DOCKER_LAYER_GZIP, digest: D("1"), size: 10 },
        { mediaType: "application/x-other", digest: D("2"), size: 20 },
      ],
      layer: { digest: D("3"), size: 30 },
      base: { name: "r/base:1", digest: D("4") },
    };
    const oci = buildManifest({ ...input, format: "oci" });
    assert.deepEqual(
      oci.layers.map((l) => l.mediaType),
      [OCI_LAYER_GZIP, "application/x-other", OCI_LAYER_GZIP],
    );
    const json = JSON.parse(oci.bytes.toString());
    assert.equal(json.annotations["org.opencontainers.image.base.digest"], D("4"));
    const docker = buildManifest({ ...input, format: "docker" });
    assert.equal(JSON.parse(docker.bytes.toString()).annotations, undefined);
    assert.equal(docker.layers[2]?.mediaType, DOCKER_LAYER_GZIP);
    assert.equal(docker.config.mediaType, "application/vnd.docker.container.image.v1+json");
  });
});

describe("parseCommand and parseMtime", () => {
  const usage = (e: unknown) => e instanceof FerryError && e.code === "USAGE";
  it("takes a JSON array as exec form and anything else as a shell command", () => {
    assert.deepEqual(parseCommand('["/app", "--x"]', "--cmd"), ["/app", "--x"]);
    assert.deepEqual(parseCommand("[]", "--cmd"), []);
    assert.deepEqual(parseCommand("echo hi", "--cmd"), ["/bin/sh", "-c", "echo hi"]);
    assert.throws(() => parseCommand("[oops", "--cmd"), usage);
    assert.throws(() => parseCommand("[1]", "--cmd"), usage);
  });
  it("prefers SOURCE_DATE_EPOCH, then --mtime (seconds or a date), then 0", () => {
    assert.equal(parseMtime(undefined, undefined), 0);
    assert.equal(parseMtime("", "12"), 12);
    assert.equal(parseMtime("100", "12"), 100);
    assert.equal(parseMtime(undefined, "1970-01-02T00:00:00Z"), 86400);
    assert.throws(() => parseMtime("1.5", undefined), usage);
    assert.throws(() => parseMtime(undefined, "yesterday"), usage);
    assert.throws(() => parseMtime(undefined, "1960-01-01"), usage);
  });
});
