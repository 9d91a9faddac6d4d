/**
 * The README's YAML examples are real: every `yaml` block parses, and every block that is a ferry
 * config (or a `rules:` excerpt of one) passes the config loader. A `{` inside `[...]` unquoted,
 * for one, is a YAML error a reader would meet first.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { it } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { parseConfig } from "../../lib/config.ts";

const readme = readFileSync(fileURLToPath(new URL("../../README.md", import.meta.url)), "utf8");
const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");

it("every yaml block in the README parses, and every ferry config in it loads", () => {
  assert.ok(blocks.length >= 3, `found ${blocks.length} yaml blocks`);
  let configs = 0;
  for (const [i, text] of blocks.entries()) {
    const doc = parse(text) as Record<string, unknown>;
    assert.equal(typeof doc, "object", `block ${i} is a mapping`);
    if ("version" in doc || "rules" in doc || "pipeline" in doc) {
      parseConfig({ version: 1, ...doc }, `README yaml block ${i}`);
      configs++;
    }
  }
  assert.ok(configs >= 2, `${configs} config blocks checked`);
});
