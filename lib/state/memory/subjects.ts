/** Subjects in memory: one subject item per source manifest, its sets of destinations and held jobs; taking the held jobs empties the set at once. */
import type { SubjectRecords } from "../store.ts";
import type { MemoryTables, SubjectItem } from "./tables.ts";

export class MemorySubjects implements SubjectRecords {
  private readonly m: MemoryTables;

  constructor(m: MemoryTables) {
    this.m = m;
  }

  async addReplicas(source: string, digests: string[], destination: string): Promise<void> {
    for (const digest of digests) this.item(source, digest).dests.add(destination);
  }

  async replicasOf(source: string, digest: string): Promise<string[]> {
    return [...(this.m.subjects.get(`${source}@${digest}`)?.dests ?? [])];
  }

  async holdForSignature(source: string, digest: string, jobId: string): Promise<void> {
    this.item(source, digest).held.add(jobId);
  }

  async takeHeld(source: string, digest: string): Promise<string[]> {
    const it = this.m.subjects.get(`${source}@${digest}`);
    if (!it) return [];
    const held = [...it.held];
    it.held.clear();
    return held;
  }

  /** The subject item, made when absent (DynamoDB's ADD makes it). */
  private item(source: string, digest: string): SubjectItem {
    const key = `${source}@${digest}`;
    let it = this.m.subjects.get(key);
    if (!it) {
      it = { dests: new Set(), held: new Set() };
      this.m.subjects.set(key, it);
    }
    return it;
  }
}
