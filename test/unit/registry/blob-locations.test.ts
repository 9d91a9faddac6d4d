/**
 * Known blob locations: a place is offered only for a copy from the source the blob was read
 * from, never into a repository already known to hold it; the oldest blob goes first past the
 * bound; a refused place is dropped; a registry that keeps refusing is not asked again.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { BlobLocations, PAUSE_MS, REFUSALS_TO_PAUSE, REPOS_PER_BLOB } from "../../../lib/registry/blob-locations.ts";

const A = "sha256:a";
const SRC = "src.test/app";

it("offers the repository last noted for the same source, and nothing for another source", () => {
  const l = new BlobLocations();
  assert.equal(l.mountSource(A, "two", SRC), undefined, "nothing noted");
  l.note(A, "one", SRC);
  assert.equal(l.mountSource(A, "two", SRC), "one");
  assert.equal(l.mountSource(A, "two", "src.test/other"), undefined, "another source proves nothing about this blob");
  l.note(A, "three", SRC);
  assert.equal(l.mountSource(A, "two", SRC), "three", "the most recent place first");
});

it("offers nothing for a repository already known to hold the blob (a HEAD finds it there)", () => {
  const l = new BlobLocations();
  l.note(A, "one", SRC);
  l.note(A, "two", SRC);
  assert.equal(l.mountSource(A, "one", SRC), undefined);
  assert.equal(l.mountSource(A, "two", SRC), undefined);
});

it("keeps a few repositories per blob; a note from another source starts over", () => {
  const l = new BlobLocations();
  for (let i = 0; i <= REPOS_PER_BLOB; i++) l.note(A, `r${i}`, SRC);
  assert.equal(l.mountSource(A, "r0", SRC), `r${REPOS_PER_BLOB}`, "the oldest repository fell out, so r0 may mount");
  l.note(A, "x", "src.test/other");
  assert.equal(l.mountSource(A, "y", SRC), undefined);
  assert.equal(l.mountSource(A, "y", "src.test/other"), "x");
});

it("keeps at most `max` blobs, dropping the least recently noted", () => {
  const l = new BlobLocations(2);
  l.note("sha256:a", "r", SRC);
  l.note("sha256:b", "r", SRC);
  l.note("sha256:a", "s", SRC); // noted again: now the newest
  l.note("sha256:c", "r", SRC);
  assert.equal(l.mountSource("sha256:b", "t", SRC), undefined, "b was the oldest");
  assert.equal(l.mountSource("sha256:a", "t", SRC), "s");
  assert.equal(l.mountSource("sha256:c", "t", SRC), "r");
});

it("drops a refused place; pauses after refusals in a row (unless a mount worked in between), then offers again", () => {
  let now = 1_000_000;
  const l = new BlobLocations(100, () => now);
  l.note(A, "one", SRC);
  l.note(A, "two", SRC);
  l.refused(A, "two");
  assert.equal(l.mountSource(A, "z", SRC), "one", "the refused place is gone, the other stays");
  for (let i = 1; i < REFUSALS_TO_PAUSE - 1; i++) l.refused("sha256:x", "r");
  l.mounted();
  for (let i = 1; i < REFUSALS_TO_PAUSE; i++) l.refused("sha256:x", "r");
  assert.equal(l.mountSource(A, "z", SRC), "one", "a success resets the count");
  l.refused("sha256:x", "r");
  assert.equal(l.mountSource(A, "z", SRC), undefined, "a registry that keeps refusing is left alone");
  now += PAUSE_MS - 1;
  assert.equal(l.mountSource(A, "z", SRC), undefined);
  now += 1;
  assert.equal(l.mountSource(A, "z", SRC), "one", "asked again after the pause");
});
