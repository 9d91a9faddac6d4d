/**
 * A rule's delete propagation (opt-in, off by default): when the source deletes a tag, the
 * destination tag goes too after `delay` seconds, unless the tag was pushed again meanwhile,
 * ferry did not write the destination tag last, or another tag still references its manifest.
 */
import { z } from "zod";

/** Seconds between a deletion at the source and its propagation when a rule says only `propagate`. */
export const DEFAULT_DELETE_DELAY = 300;
/** The longest delay a rule may ask for: a week (the wait is re-queued in steps, so it outlives SQS's 900 s). */
export const MAX_DELETE_DELAY = 7 * 86400;

const delay = z.number().int().min(0).max(MAX_DELETE_DELAY);

/** `off` (the default), `propagate` (after 300 s), or `{mode: propagate, delay: SECONDS}`. */
export const DeletesSettingSchema = z.union(
  [z.enum(["off", "propagate"]), z.object({ mode: z.enum(["off", "propagate"]), delay: delay.default(DEFAULT_DELETE_DELAY) }).strict()],
  { error: `want off, propagate, or {mode: propagate, delay: SECONDS} (0 to ${MAX_DELETE_DELAY})` },
);
export type DeletesSetting = z.infer<typeof DeletesSettingSchema>;

/** The delay in seconds when deletions propagate under this setting; undefined when they do not. */
export function deleteDelayOf(setting: DeletesSetting | undefined): number | undefined {
  if (setting === undefined || setting === "off") return undefined;
  if (setting === "propagate") return DEFAULT_DELETE_DELAY;
  return setting.mode === "propagate" ? setting.delay : undefined;
}
