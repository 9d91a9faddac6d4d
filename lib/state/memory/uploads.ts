/** Upload records in memory: one per key, a copy in and out, gone once its TTL has passed (as DynamoDB's, but at once). */
import { UPLOAD_RECORD_TTL_DAYS, type UploadRecord, type UploadRecords } from "../uploads.ts";
import { asJson, type MemoryTables } from "./tables.ts";

export class MemoryUploads implements UploadRecords {
  private readonly m: MemoryTables;
  /** Records by key with the epoch second they expire at (kept here: no other part reads them). */
  private readonly items = new Map<string, { rec: UploadRecord; ttl: number }>();

  constructor(m: MemoryTables) {
    this.m = m;
  }

  async saveUpload(key: string, rec: UploadRecord): Promise<void> {
    this.items.set(key, { rec: asJson(rec), ttl: Math.floor(this.m.now() / 1000) + UPLOAD_RECORD_TTL_DAYS * 86400 });
  }

  async getUpload(key: string): Promise<UploadRecord | undefined> {
    const it = this.items.get(key);
    if (!it) return undefined;
    if (it.ttl * 1000 <= this.m.now()) {
      this.items.delete(key);
      return undefined;
    }
    return asJson(it.rec);
  }

  async dropUpload(key: string): Promise<void> {
    this.items.delete(key);
  }
}
