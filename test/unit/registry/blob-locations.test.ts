/** Known blob locations: the last repository noted wins, the oldest entry goes first past the bound, and only a matching entry is forgotten. */
import assert from "node:assert/strict";
import { it } from "node:test";
import { BlobLocations } from "../../../lib/registry/blob-locations.ts";

it("answers the repository last noted for a digest", () => {
  const l = new BlobLocations();
  assert.equal(l.get("sha256:a"), undefined);
  l.note("sha256:a", "one");
  l.note("sha256:a", "two");
  assert.equal(l.get("sha256:a"), "two");
});

it("keeps at most `max` entries, dropping the least recently noted", () => {
  const l = new BlobLocations(2);
  l.note("sha256:a", "r");
  l.note("sha256:b", "r");
  l.note("sha256:a", "s"); // noted again: now the newest
  l.note("sha256:c", "r");
  assert.equal(l.get("sha256:b"), undefined, "b was the oldest");
  assert.equal(l.get("sha256:a"), "s");
  assert.equal(l.get("sha256:c"), "r");
});

it("forgets an entry only while it still names the repository a mount failed from", () => {
  const l = new BlobLocations();
  l.note("sha256:a", "one");
  l.note("sha256:a", "two"); // a newer copy put it elsewhere meanwhile
  l.forget("sha256:a", "one");
  assert.equal(l.get("sha256:a"), "two");
  l.forget("sha256:a", "two");
  assert.equal(l.get("sha256:a"), undefined);
});
