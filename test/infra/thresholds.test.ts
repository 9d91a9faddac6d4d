/** The reconciler's rate and the alarm thresholds, as plain numbers from the config. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { oldestActiveJobAgeThreshold, oldestMessageAgeThreshold, reconcileRateMinutes, stuckAfterSeconds } from "../../infra/thresholds.ts";
import { parseConfig } from "../../lib/config.ts";

const pipeline = (p: Record<string, number> = {}) => parseConfig({ version: 1, pipeline: p }).pipeline;

describe("reconcileRateMinutes", () => {
  const cases: Array<[number, number]> = [
    [1, 1],
    [30, 1],
    [60, 1],
    [61, 2],
    [150, 3],
    [3600, 60],
  ];
  for (const [every, minutes] of cases) {
    it(`reconcileEvery ${every} s → ${minutes} min`, () => assert.equal(reconcileRateMinutes(pipeline({ reconcileEvery: every })), minutes));
  }
  it("the default (30 s) runs every minute", () => assert.equal(reconcileRateMinutes(pipeline()), 1));
});

describe("stuckAfterSeconds", () => {
  it("is stuckAfter when set", () => assert.equal(stuckAfterSeconds(pipeline({ stuckAfter: 500, visibilityTimeout: 30 }), 5400), 500));
  it("else 2 × the longest queue visibility (a failed message's silent wait)", () => {
    assert.equal(stuckAfterSeconds(pipeline(), 5400), 10_800);
    assert.equal(stuckAfterSeconds(pipeline({ visibilityTimeout: 90 }), 720), 1440);
  });
});

describe("oldestActiveJobAgeThreshold", () => {
  it("the stuck bound plus one period, when it outweighs a healthy job", () => {
    // (maxRedrives 3 + 1) × (stuckAfter 300 + period 120) + 120
    assert.equal(oldestActiveJobAgeThreshold(pipeline({ reconcileEvery: 120 }), 1200, 300), 4 * 420 + 120);
  });
  it("a healthy job's longest run plus one period, when that is longer", () => {
    // stuck bound 4 × (60 + 60) = 480 < 1200
    assert.equal(oldestActiveJobAgeThreshold(pipeline(), 1200, 60), 1260);
  });
  it("maxRedrives 0: one round before the reconciler fails the job", () => {
    assert.equal(oldestActiveJobAgeThreshold(pipeline({ maxRedrives: 0 }), 1200, 3000), 3060 + 60);
  });
});

describe("oldestMessageAgeThreshold", () => {
  it("is visibility × maxReceiveCount", () => {
    assert.equal(oldestMessageAgeThreshold(5400, 5), 27000);
    assert.equal(oldestMessageAgeThreshold(720, 1), 720);
  });
});
