/** Where an image lives: a registry reference, or an OCI image layout (`oci:PATH[:TAG|@DIGEST]`). */
import { FerryError } from "../errors.ts";
import { isDigest } from "../oci/digest.ts";
import { parseReference, type Reference } from "../oci/reference.ts";
import { isValidTag } from "../oci/reference.ts";

export type Location =
  | { kind: "registry"; ref: Reference; tag: string | undefined; digest: string | undefined }
  | { kind: "oci"; dir: string; tag: string | undefined; digest: string | undefined };

/** Parses `oci:PATH[:TAG|@DIGEST]`, `docker://REF`, or a plain reference (no default tag). */
export function parseLocation(s: string): Location {
  if (s.startsWith("oci:")) {
    let rest = s.slice(4);
    let digest: string | undefined;
    let tag: string | undefined;
    const at = rest.lastIndexOf("@");
    if (at > 0 && isDigest(rest.slice(at + 1))) {
      digest = rest.slice(at + 1);
      rest = rest.slice(0, at);
    }
    const colon = rest.lastIndexOf(":");
    if (colon >= 0 && colon > rest.lastIndexOf("/")) {
      tag = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
      if (!isValidTag(tag)) throw new FerryError("INVALID_REFERENCE", `invalid tag ${JSON.stringify(tag)} in ${s}`);
    }
    if (!rest) throw new FerryError("INVALID_REFERENCE", `${s}: missing layout directory (oci:PATH[:TAG])`);
    return { kind: "oci", dir: rest, tag, digest };
  }
  const ref = parseReference(s.startsWith("docker://") ? s.slice(9) : s, { defaultTag: false });
  return { kind: "registry", ref, tag: ref.tagName, digest: ref.digest };
}

/** Display form of a location. */
export function formatLocation(l: Location): string {
  const suffix = `${l.tag ? `:${l.tag}` : ""}${l.digest ? `@${l.digest}` : ""}`;
  return l.kind === "oci" ? `oci:${l.dir}${suffix}` : `${l.ref.withoutTag().toString()}${suffix}`;
}
