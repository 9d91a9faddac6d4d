/** Written tags in memory: one record per (source repository, destination tag), a copy in and out, each write checked and applied at once. */
import type { WrittenTag, WrittenTags } from "../written-tags.ts";
import { asJson } from "./tables.ts";

export class MemoryWrittenTags implements WrittenTags {
  /** Records by source repository, then by `destination:tag` (kept here: no other part reads them). */
  private readonly bySource = new Map<string, Map<string, WrittenTag>>();

  async noteWritten(rec: WrittenTag): Promise<boolean> {
    let recs = this.bySource.get(rec.source);
    if (!recs) {
      recs = new Map();
      this.bySource.set(rec.source, recs);
    }
    const key = `${rec.destination}:${rec.tag}`;
    const old = recs.get(key);
    if (old && old.eventTime > rec.eventTime) return false;
    recs.set(key, asJson(rec));
    return true;
  }

  async getWritten(source: string, destination: string, tag: string): Promise<WrittenTag | undefined> {
    const rec = this.bySource.get(source)?.get(`${destination}:${tag}`);
    return rec ? asJson(rec) : undefined;
  }

  async writtenFrom(source: string): Promise<WrittenTag[]> {
    return [...(this.bySource.get(source)?.values() ?? [])].map((r) => asJson(r));
  }

  async forgetWritten(source: string, destination: string, tag: string, digest: string): Promise<boolean> {
    const recs = this.bySource.get(source);
    const key = `${destination}:${tag}`;
    if (recs?.get(key)?.digest !== digest) return false;
    recs.delete(key);
    return true;
  }
}
