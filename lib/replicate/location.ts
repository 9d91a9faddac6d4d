/**
 * Where an image lives: a registry reference, or an OCI image layout directory, written as skopeo
 * writes it (`oci:PATH[:REF]`) or by digest (`oci:PATH@DIGEST`, ferry's own form).
 */
import { FerryError } from "../errors.ts";
import { isDigest } from "../oci/digest.ts";
import { parseReference, type Reference } from "../oci/reference.ts";

export type Location =
  | { kind: "registry"; ref: Reference; tag: string | undefined; digest: string | undefined }
  /** `tag` is the image's ref name in the layout's index.json (`org.opencontainers.image.ref.name`). */
  | { kind: "oci"; dir: string; tag: string | undefined; digest: string | undefined };

/**
 * The grammar of a layout's ref names (image-spec annotations.md, `org.opencontainers.image.ref.name`),
 * as containers/image checks it (oci/internal/oci_util.go): components of `[A-Za-z0-9]+` joined by
 * one of `-._:@+` or `--`, components separated by `/`. `team/app-1.0`, `v1`, `1.0:beta@x` are names.
 */
const REF_NAME_RE = /^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:\/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$/;

/** True when `name` may be a ref name in an OCI image layout. */
export function isLayoutRefName(name: string): boolean {
  return REF_NAME_RE.test(name);
}

/**
 * Parses `oci:PATH[:REF]`, `oci:PATH@DIGEST`, `docker://REF`, or a plain reference (no default tag).
 *
 * Layouts are split as skopeo splits them (containers/image `oci/layout` ParseReference →
 * `splitPathAndImageNonWindows`): PATH ends at the first `:`, and everything after it is the ref
 * name, colons and `@` included (`oci:DIR:team/app-1.0`). So PATH never holds a colon, as
 * containers/image's ValidateOCIPath requires. An empty REF means none (the layout's only image).
 * `oci:PATH@DIGEST` (no colon before the `@`) names an image by digest; skopeo would read that as
 * a directory `PATH@sha256` — a name no layout has. skopeo's `oci:PATH:@N` (the Nth entry) is
 * refused: ferry names images by ref name or digest.
 */
export function parseLocation(s: string): Location {
  if (s.startsWith("oci:")) return parseLayout(s);
  const ref = parseReference(s.startsWith("docker://") ? s.slice(9) : s, { defaultTag: false });
  return { kind: "registry", ref, tag: ref.tagName, digest: ref.digest };
}

function parseLayout(s: string): Location {
  const rest = s.slice(4);
  const at = rest.lastIndexOf("@");
  const colon = rest.indexOf(":");
  let dir: string;
  let tag: string | undefined;
  let digest: string | undefined;
  if (at > 0 && (colon < 0 || colon > at) && isDigest(rest.slice(at + 1))) {
    dir = rest.slice(0, at);
    digest = rest.slice(at + 1);
  } else if (colon >= 0) {
    dir = rest.slice(0, colon);
    tag = rest.slice(colon + 1) || undefined;
  } else {
    dir = rest;
  }
  if (!dir) throw new FerryError("INVALID_REFERENCE", `${s}: missing layout directory (oci:PATH[:REF] or oci:PATH@DIGEST)`);
  if (tag?.startsWith("@")) throw new FerryError("INVALID_REFERENCE", `${s}: ferry names a layout's image by ref name or digest, not by index (${tag})`);
  if (tag !== undefined && !isLayoutRefName(tag)) {
    throw new FerryError(
      "INVALID_REFERENCE",
      `${s}: invalid ref name ${JSON.stringify(tag)}: want [A-Za-z0-9]+ joined by one of -._:@+ or --, components separated by /`,
    );
  }
  return { kind: "oci", dir, tag, digest };
}

/** Display form of a location. */
export function formatLocation(l: Location): string {
  const suffix = `${l.tag ? `:${l.tag}` : ""}${l.digest ? `@${l.digest}` : ""}`;
  return l.kind === "oci" ? `oci:${l.dir}${suffix}` : `${l.ref.withoutTag().toString()}${suffix}`;
}
