/**
 * The written-tags concern of the job store (what ferry last moved a destination tag to), run by
 * the job-store suite on every adapter: memory, dynalite and DynamoDB Local.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { it } from "node:test";
import type { WrittenTag, WrittenTags } from "../../lib/state/store.ts";

const D1 = `sha256:${"1".repeat(64)}`;
const D2 = `sha256:${"2".repeat(64)}`;

/** Registers the cases inside the caller's `describe`; `setup` opens the adapter's store. */
export function writtenTagsCases(setup: () => Promise<WrittenTags>): void {
  const rec = (source: string, over: Partial<WrittenTag> = {}): WrittenTag => ({
    source,
    sourceTag: "v1",
    destination: "dst.example:5000/team/app",
    tag: "v1",
    digest: D1,
    eventTime: 1000,
    jobId: "job-1",
    rule: "mirror",
    ...over,
  });

  it("written tags: recorded per source and destination tag, read back whole, listed per source", async () => {
    const s = await setup();
    const src = `src.example/${randomUUID()}`;
    assert.equal(await s.getWritten(src, "dst.example:5000/team/app", "v1"), undefined);
    assert.deepEqual(await s.writtenFrom(src), []);
    assert.equal(await s.noteWritten(rec(src)), true);
    assert.equal(await s.noteWritten(rec(src, { tag: "v2", sourceTag: "v2", digest: D2 })), true);
    const { sourceTag: _, rule: __, ...bare } = rec(src, { tag: "by-digest", jobId: "job-2" });
    assert.equal(await s.noteWritten(bare), true);
    assert.deepEqual(await s.getWritten(src, "dst.example:5000/team/app", "v1"), rec(src));
    assert.deepEqual(await s.getWritten(src, "dst.example:5000/team/app", "by-digest"), bare, "optional fields stay absent");
    const listed = (await s.writtenFrom(src)).sort((a, b) => a.tag.localeCompare(b.tag));
    assert.deepEqual(
      listed.map((r) => [r.tag, r.digest]),
      [
        ["by-digest", D1],
        ["v1", D1],
        ["v2", D2],
      ],
    );
    assert.deepEqual(await s.writtenFrom(`${src}-other`), [], "another source's records are its own");
    assert.equal(await s.getWritten(`${src}-other`, "dst.example:5000/team/app", "v1"), undefined);
  });

  it("written tags: an older move never overwrites a newer one's record; the same or a newer one does", async () => {
    const s = await setup();
    const src = `src.example/${randomUUID()}`;
    assert.equal(await s.noteWritten(rec(src, { eventTime: 2000, digest: D2, jobId: "newer" })), true);
    assert.equal(await s.noteWritten(rec(src, { eventTime: 1000, digest: D1, jobId: "older" })), false);
    assert.equal((await s.getWritten(src, "dst.example:5000/team/app", "v1"))?.jobId, "newer");
    assert.equal(await s.noteWritten(rec(src, { eventTime: 2000, digest: D2, jobId: "again" })), true, "a redelivered move");
    assert.equal(await s.noteWritten(rec(src, { eventTime: 3000, digest: D1, jobId: "newest" })), true);
    assert.equal((await s.getWritten(src, "dst.example:5000/team/app", "v1"))?.digest, D1);
  });

  it("written tags: forgotten only while the record still says the digest deleted", async () => {
    const s = await setup();
    const src = `src.example/${randomUUID()}`;
    await s.noteWritten(rec(src, { digest: D2 }));
    assert.equal(await s.forgetWritten(src, "dst.example:5000/team/app", "v1", D1), false, "a newer move's record stays");
    assert.equal((await s.getWritten(src, "dst.example:5000/team/app", "v1"))?.digest, D2);
    assert.equal(await s.forgetWritten(src, "dst.example:5000/team/app", "v1", D2), true);
    assert.equal(await s.getWritten(src, "dst.example:5000/team/app", "v1"), undefined);
    assert.equal(await s.forgetWritten(src, "dst.example:5000/team/app", "v1", D2), false, "nothing left to forget");
    assert.deepEqual(await s.writtenFrom(src), []);
  });
}
