/** A rule's `deletes` setting: off by default, `propagate` with the default delay, or a mode and a delay; anything else refused with the field's path. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfigText } from "../../../lib/config.ts";
import { FerryError } from "../../../lib/errors.ts";
import { DEFAULT_DELETE_DELAY, deleteDelayOf } from "../../../lib/rules/deletes.ts";

const withDeletes = (deletes: string) =>
  parseConfigText(
    `version: 1\nrules:\n  - name: m\n    source: src.example.com/team/**\n    destinations: ["dst.example.com/{repo}"]\n${deletes ? `    deletes: ${deletes}\n` : ""}`,
  );

describe("rules: deletes", () => {
  const table: Array<[string, number | undefined]> = [
    ["", undefined],
    ["off", undefined],
    ["propagate", DEFAULT_DELETE_DELAY],
    ["{mode: propagate, delay: 2}", 2],
    ["{mode: propagate}", DEFAULT_DELETE_DELAY],
    ["{mode: off, delay: 60}", undefined],
    ["{mode: propagate, delay: 0}", 0],
    ["{mode: propagate, delay: 86400}", 86400],
  ];
  for (const [yaml, want] of table) {
    it(`${yaml || "(absent)"} → ${want ?? "off"}`, () => {
      assert.equal(deleteDelayOf(withDeletes(yaml).rules[0]?.deletes), want);
    });
  }
  for (const bad of [
    "yes",
    "{mode: propagate, delay: -1}",
    "{mode: propagate, delay: 1.5}",
    "{mode: propagate, delay: 999999999}",
    "{mode: mirror}",
    "{mode: propagate, after: 3}",
  ]) {
    it(`refuses ${bad}`, () => {
      assert.throws(
        () => withDeletes(bad),
        (e: unknown) => e instanceof FerryError && e.code === "INVALID_CONFIG" && e.message.includes("rules[0].deletes"),
      );
    });
  }
});
