/** Cursors in memory: one string per key; clearing one deletes it. */
import type { Cursors } from "../store.ts";
import type { MemoryTables } from "./tables.ts";

export class MemoryCursors implements Cursors {
  private readonly m: MemoryTables;

  constructor(m: MemoryTables) {
    this.m = m;
  }

  async getCursor(key: string): Promise<string | undefined> {
    return this.m.cursors.get(key);
  }

  async putCursor(key: string, value: string | undefined): Promise<void> {
    if (value === undefined) this.m.cursors.delete(key);
    else this.m.cursors.set(key, value);
  }
}
