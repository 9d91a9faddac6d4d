/** Platforms as `os/arch[/variant]` strings: parsing, formatting and matching. */
import { FerryError } from "../errors.ts";
import type { Platform } from "./manifest.ts";

/** Parses `linux/arm64/v8`; throws USAGE on a malformed string. */
export function parsePlatform(s: string): Platform {
  const parts = s.split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-zA-Z0-9._-]+$/.test(p))) {
    throw new FerryError("USAGE", `invalid platform ${JSON.stringify(s)}: want os/arch[/variant], e.g. linux/arm64`);
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** `os/arch[/variant]`. */
export function formatPlatform(p: Platform | undefined): string {
  if (!p) return "unknown";
  return [p.os, p.architecture, p.variant].filter(Boolean).join("/");
}

/** True when `candidate` satisfies `wanted`: os and arch equal, variant equal when wanted names one. */
export function platformMatches(wanted: Platform, candidate: Platform | undefined): boolean {
  if (!candidate) return false;
  if (wanted.os !== candidate.os || wanted.architecture !== candidate.architecture) return false;
  return !wanted.variant || wanted.variant === candidate.variant;
}

/** Splits `os/arch[/variant]` without validating (a platform ferry formatted itself). */
export function parsePlatformLoose(s: string): Platform {
  const [os = "", architecture = "", variant] = s.split("/");
  return variant ? { os, architecture, variant } : { os, architecture };
}
