/**
 * The signature gate of a rule (`verify.cosign.publicKeys`): an image passes when one of its
 * cosign signatures (a `.sig` tag or an OCI 1.1 signature referrer) is a simple-signing payload
 * for its digest, verified with one of the rule's keys. Otherwise UNSIGNED or SIGNATURE_INVALID,
 * and no tag moves. Key-based only: keyless (Fulcio/Rekor) signatures are not verified.
 */
import type { KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { RuleConfig } from "../config.ts";
import { type ErrorCode, type ErrorRecord, errorOf, FerryError, onSide } from "../errors.ts";
import {
  COSIGN_SIGNATURE_ARTIFACT_TYPE,
  parsePublicKeys,
  SIMPLE_SIGNING_MEDIA_TYPE,
  signaturesIn,
  type SignatureVerdict,
  verifySimpleSigning,
} from "../oci/cosign.ts";
import type { Descriptor } from "../oci/manifest.ts";
import { cosignTag } from "../oci/referrers.ts";
import type { CallOptions } from "../registry/client.ts";
import type { ImageSource } from "../replicate/ports.ts";
import { discoverReferrers } from "../replicate/referrers.ts";
import type { PipelineDeps } from "./deps.ts";

/** The codes the gate fails a job with; a late signature re-plans such a job. */
export const GATE_CODES: readonly ErrorCode[] = ["UNSIGNED", "SIGNATURE_INVALID"];

/** A signature payload is a small JSON document; anything larger is not one. */
const MAX_PAYLOAD_BYTES = 256 * 1024;

const keyCache = new WeakMap<RuleConfig, Promise<KeyObject[]>>();

/** The rule's keys, read once per process (inline PEM, file, environment variable or Secrets Manager). */
function keysOf(deps: PipelineDeps, rule: RuleConfig): Promise<KeyObject[]> {
  let keys = keyCache.get(rule);
  if (!keys) {
    const sources = rule.verify?.cosign.publicKeys ?? [];
    keys = Promise.all(
      sources.map(async (k) => {
        if (typeof k === "string") return k;
        if ("file" in k) return readFile(k.file, "utf8");
        if ("env" in k) {
          const v = (deps.env ?? process.env)[k.env];
          if (!v) throw new FerryError("INVALID_CONFIG", `rule ${rule.name}: environment variable ${k.env} (a public key) is not set`);
          return v;
        }
        if (!deps.secretValue) throw new FerryError("INVALID_CONFIG", `rule ${rule.name}: a key by secretArn needs AWS (Secrets Manager)`);
        return deps.secretValue(k.secretArn);
      }),
    ).then(parsePublicKeys);
    keys.catch(() => keyCache.delete(rule));
    keyCache.set(rule, keys);
  }
  return keys;
}

/** Checks the gate of `rule` for `digest` at `source`; undefined when the image passes. */
export async function checkSignature(
  deps: PipelineDeps,
  rule: RuleConfig,
  source: ImageSource,
  digest: string,
  call: CallOptions,
): Promise<ErrorRecord | undefined> {
  const keys = await keysOf(deps, rule);
  const found = await discoverReferrers(source, [digest], { artifactTypes: [SIMPLE_SIGNING_MEDIA_TYPE, COSIGN_SIGNATURE_ARTIFACT_TYPE], maxDepth: 1, call });
  const candidates = found.referrers.filter((r) => r.subject === digest);
  if (candidates.length === 0) {
    return errorOf("UNSIGNED", `${source.address(digest)} carries no cosign signature (no ${cosignTag(digest, "sig")} tag, no signature referrer)`, {
      side: "source",
    });
  }
  const verdicts: SignatureVerdict[] = [];
  for (const c of candidates) {
    const sig = await onSide(source.manifestGet(c.descriptor.digest, call), "source");
    for (const s of signaturesIn(sig)) {
      const v = verifySimpleSigning(await payloadOf(source, s.payload, call), s.signature, digest, keys);
      if (v === "valid") return undefined;
      verdicts.push(v);
    }
  }
  const counts = [...new Set(verdicts)].map((v) => `${verdicts.filter((x) => x === v).length} ${v}`).join(", ");
  return errorOf("SIGNATURE_INVALID", `${source.address(digest)}: no signature is valid for rule ${rule.name}'s keys (${counts || "no signature layers"})`, {
    side: "source",
  });
}

async function payloadOf(source: ImageSource, desc: Descriptor, call: CallOptions): Promise<Buffer> {
  if (desc.size > MAX_PAYLOAD_BYTES) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const c of await onSide(source.blobGet(desc, call), "source")) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
