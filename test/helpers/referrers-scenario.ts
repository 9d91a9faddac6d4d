/**
 * An image that carries everything issue 11 names, published the way real tools do: cosign's
 * `.sig`, `.att` and `.sbom` tags (for the index and for one platform's manifest), two OCI 1.1
 * referrers (an SBOM and a sigstore bundle), a signature of that SBOM (a referrer of a referrer),
 * and buildx attestations inside the index. Without the referrers API at the registry the OCI
 * referrers are listed under the fallback tag, as oras and cosign do.
 */
import { digestOf } from "../../lib/oci/digest.ts";
import { OCI_INDEX } from "../../lib/oci/media-types.ts";
import { fallbackTag, mergeFallbackIndex, referrerDescriptor } from "../../lib/oci/referrers.ts";
import { parseManifest } from "../../lib/oci/manifest.ts";
import type { RegistryClient } from "../../lib/registry/client.ts";
import { cosignAttestation, cosignBundleReferrer, cosignSbom, cosignSignature, keyPair, referrerArtifact, sigstoreBundle, subjectOf } from "./cosign.ts";
import { type ManifestSpec, pushImage, randomIndex } from "./images.ts";

export interface ReferrersScenario {
  image: ManifestSpec;
  /** cosign tags and the manifests under them. */
  cosign: Array<{ tag: string; spec: ManifestSpec }>;
  /** OCI 1.1 referrers, each with its subject. */
  oci: Array<{ subject: string; spec: ManifestSpec }>;
  publicKeyPem: string;
}

export function referrersScenario(seed: string, host: string, repo: string): ReferrersScenario {
  const image = randomIndex({ platforms: 2, attestations: true, seed, layers: 1, layerSize: 512 });
  const child = image.children[0] as ManifestSpec;
  const { publicKeyPem, privateKey } = keyPair("ecdsa-p256");
  const ref = `${host}/${repo}`;
  const sig = cosignSignature(image.digest, ref, privateKey);
  const att = cosignAttestation(image.digest, privateKey);
  const sbom = cosignSbom(image.digest);
  const childSig = cosignSignature(child.digest, ref, privateKey);
  const spdx = referrerArtifact(subjectOf(image), "application/spdx+json", JSON.stringify({ spdxVersion: "SPDX-2.3", name: seed }));
  const bundle = cosignBundleReferrer(subjectOf(image), sigstoreBundle(image.digest, privateKey, publicKeyPem));
  const spdxSig = referrerArtifact(subjectOf(spdx), "application/vnd.dev.cosign.artifact.sig.v1+json", `signature of ${spdx.digest}`);
  return {
    image,
    cosign: [sig, att, sbom, childSig].map((s) => ({ tag: s.tag, spec: s })),
    oci: [
      { subject: image.digest, spec: spdx },
      { subject: image.digest, spec: bundle },
      { subject: spdx.digest, spec: spdxSig },
    ],
    publicKeyPem,
  };
}

/**
 * Pushes the image under `tag` and everything that refers to it. With `fallback`, each subject's
 * referrers are also listed under its fallback tag (a registry without the referrers API).
 */
export async function publishScenario(client: RegistryClient, repo: string, tag: string, s: ReferrersScenario, fallback: boolean): Promise<void> {
  await pushImage(client, repo, tag, s.image);
  for (const c of s.cosign) await pushImage(client, repo, c.tag, c.spec);
  for (const r of s.oci) await pushImage(client, repo, undefined, r.spec);
  if (fallback) for (const [subject, specs] of bySubject(s.oci)) await listUnderFallbackTag(client, repo, subject, specs);
}

/** Lists referrers under their subject's fallback tag, keeping what the tag lists already. */
export async function listUnderFallbackTag(client: RegistryClient, repo: string, subject: string, specs: ManifestSpec[]): Promise<void> {
  const tag = fallbackTag(subject);
  const there = await client.manifestHead(repo, tag);
  const existing = there ? (await client.manifestGet(repo, tag)).bytes : undefined;
  const merged = mergeFallbackIndex(
    existing,
    specs.map((m) => referrerDescriptor(parseManifest(m.bytes, m.mediaType))),
  );
  await client.manifestPut(repo, tag, merged.bytes, OCI_INDEX);
}

function bySubject(oci: ReferrersScenario["oci"]): Map<string, ManifestSpec[]> {
  const out = new Map<string, ManifestSpec[]>();
  for (const r of oci) out.set(r.subject, [...(out.get(r.subject) ?? []), r.spec]);
  return out;
}

/** Digest of bytes, for assertions. */
export const digest = digestOf;
