/** A request's bad field is named as data (`field`), with a stable code: callers never cut it from a message. */
import assert from "node:assert/strict";
import { it } from "node:test";
import { FerryError } from "../../../lib/errors.ts";
import { validateRequest } from "../../../lib/pipeline/ingress.ts";

const request = (over: object) => ({
  source: "r.example/a:v1",
  destinations: ["d.example/a"],
  trigger: "api" as const,
  eventTime: "2026-01-01T00:00:00Z",
  ...over,
});

it("validateRequest names the field at fault and its code", () => {
  const cases: Array<[object, string, string]> = [
    [{ source: "Bad Ref" }, "source", "INVALID_REFERENCE"],
    [{ destinations: ["d.example/a", "x/Y"] }, "destinations[1]", "INVALID_REFERENCE"],
    [{ platforms: ["linux/amd64", "linux"] }, "platforms[1]", "USAGE"],
  ];
  for (const [over, field, code] of cases) {
    assert.throws(
      () => validateRequest(request(over)),
      (e: unknown) => e instanceof FerryError && e.field === field && e.code === code,
      JSON.stringify(over),
    );
  }
  assert.doesNotThrow(() => validateRequest(request({})));
});
