/** Constant-time comparison of secrets. */
import { createHash, timingSafeEqual } from "node:crypto";

/** True when `a` equals `b`, in time independent of where they differ (hashes equalise lengths). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}
