import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfigText } from "../../../lib/config.ts";
import { rateMs } from "../../../lib/local/serve.ts";
import { selectTags, tagAllowed, tagVersion } from "../../../lib/rules/tags.ts";

const rule = (tags: string) => parseConfigText(`version: 1\nrules: [{ name: r, source: h/x, destinations: [d/x], tags: ${tags} }]`).rules[0]!;

describe("tag filters", () => {
  it("reads versions with or without a leading v", () => {
    assert.equal(tagVersion("v1.2.3"), "1.2.3");
    assert.equal(tagVersion("1.2"), "1.2.0");
    assert.equal(tagVersion("latest"), undefined);
    assert.equal(tagVersion("1.2.3-rc.1"), "1.2.3-rc.1");
  });
  it("applies include, exclude and a semver range", () => {
    const r = rule(`{ include: ["^v"], exclude: ["-rc"], semver: ">=1.2 <2" }`);
    assert.deepEqual(
      ["v1.1.0", "v1.2.0", "v1.9.9", "v2.0.0", "v1.5.0-rc1", "1.5.0", "latest"].filter((t) => tagAllowed(r, t)),
      ["v1.2.0", "v1.9.9"],
    );
  });
  it("keeps the latest N by version, unversioned tags last", () => {
    const r = rule(`{ keepLatest: 3 }`);
    // the three highest versions, in listing order
    assert.deepEqual(selectTags(r, ["1.0.0", "latest", "2.1.0", "1.10.0", "1.9.0", "edge"]).kept, ["2.1.0", "1.10.0", "1.9.0"]);
    assert.equal(selectTags(r, ["a", "b"]).kept.length, 2);
  });
  it("validates regexes, ranges and schedules in the config", () => {
    assert.throws(() => rule(`{ include: ["("] }`), /tags\.include\[0\]: not a valid regular expression/);
    assert.throws(() => rule(`{ semver: "not a range!" }`), /tags\.semver: not a valid semver range/);
    assert.throws(
      () => parseConfigText(`version: 1\nrules: [{ name: r, source: h/x, destinations: [d/x], backfill: { schedule: "every day" } }]`),
      /backfill\.schedule/,
    );
    assert.equal(
      parseConfigText(`version: 1\nrules: [{ name: r, source: h/x, destinations: [d/x], backfill: { schedule: "cron(0 3 * * ? *)" } }]`).rules[0]?.backfill
        ?.schedule,
      "cron(0 3 * * ? *)",
    );
    assert.equal(rateMs("rate(5 minutes)"), 300_000);
    assert.equal(rateMs("rate(1 day)"), 86_400_000);
    assert.equal(rateMs("cron(0 3 * * ? *)"), undefined);
  });
});
