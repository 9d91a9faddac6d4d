/**
 * `ferry config check`: a valid config and where sample references go; a YAML error with its
 * line and column and, for the usual mistake (a `{` inside `[...]`), how to fix it.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, it } from "node:test";
import { parseConfigText } from "../../lib/config.ts";
import { FerryError } from "../../lib/errors.ts";

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../../bin/ferry.js", import.meta.url));
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-config-check-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const UNQUOTED = "version: 1\nrules:\n  - name: mirror\n    source: 127.0.0.1:5001/**\n    destinations: [127.0.0.1:5002/{repo}]\n";

it("a YAML error names the line and column, and hints to quote a { inside [...]", () => {
  assert.throws(
    () => parseConfigText(UNQUOTED, "ferry.yml"),
    (e: unknown) =>
      e instanceof FerryError && e.code === "INVALID_CONFIG" && /^ferry\.yml:5:\d+: not valid YAML/.test(e.message) && /must be quoted/.test(e.message),
  );
  // a YAML error elsewhere gets no such hint
  assert.throws(
    () => parseConfigText("version: 1\nrules: [\n", "ferry.yml"),
    (e: unknown) => e instanceof FerryError && e.code === "INVALID_CONFIG" && !/must be quoted/.test(e.message),
  );
});

it("ferry config check: exit 0 and where each sample goes; exit 1 on a bad file; exit 2 without one", { timeout: 60_000 }, async () => {
  const good = join(dir, "good.yml");
  await writeFile(
    good,
    'version: 1\nrules:\n  - name: mirror\n    source: registry.example.com/team/**\n    destinations: ["mirror.example.com/{repo}"]\n    tags: { include: ["^v"] }\n',
  );
  const { stdout } = await run(process.execPath, [
    BIN,
    "config",
    "check",
    "--json",
    good,
    "registry.example.com/team/api:v1",
    "registry.example.com/team/api:dev",
    "other.example.com/x:v1",
  ]);
  const out = JSON.parse(stdout) as { valid: boolean; samples: Array<{ matches: Array<{ rule: string; destinations: string[]; tagExcluded?: boolean }> }> };
  assert.equal(out.valid, true);
  assert.deepEqual(out.samples[0]?.matches, [{ rule: "mirror", destinations: ["mirror.example.com/team/api"] }]);
  assert.equal(out.samples[1]?.matches[0]?.tagExcluded, true);
  assert.deepEqual(out.samples[2]?.matches, []);
  const bad = join(dir, "bad.yml");
  await writeFile(bad, UNQUOTED);
  await assert.rejects(run(process.execPath, [BIN, "config", "check", bad]), (e: unknown) => (e as { code?: number }).code === 1);
  await assert.rejects(run(process.execPath, [BIN, "config", "check"]), (e: unknown) => (e as { code?: number }).code === 2);
});
