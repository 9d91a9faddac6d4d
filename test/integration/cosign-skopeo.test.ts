/**
 * The cosign fixtures checked by tools that are not ours. skopeo (containers/image) finds the
 * `.sig` image by cosign's tag convention and extracts each signature (payload and annotations)
 * into a `dir:` copy; the openssl CLI then verifies those signatures with the public key.
 * Debian's skopeo cannot verify sigstore signatures itself: its containers/image is built with
 * `disable-sigstore.patch`, and a `sigstoreSigned` policy fails with
 * "Debian-local change: sigstore disabled", whatever the key.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import type { KeyObject } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { COSIGN_SIGNATURE_ANNOTATION, parsePublicKeys, SIMPLE_SIGNING_MEDIA_TYPE, verifySimpleSigning } from "../../lib/oci/cosign.ts";
import { RegistryPool } from "../../lib/registry/pool.ts";
import { cosignSignature, type KeyKind, keyPair } from "../helpers/cosign.ts";
import { type Distribution, startDistribution } from "../helpers/distribution.ts";
import { pushImage, randomImage } from "../helpers/images.ts";

const run = promisify(execFile);

let reg: Distribution;
let pool: RegistryPool;
let work: string;
before(async () => {
  reg = await startDistribution();
  pool = new RegistryPool({ authFile: false, retry: { baseDelayMs: 20 } });
  work = await mkdtemp(join(tmpdir(), "ferry-cosign-"));
  await mkdir(join(work, "registries.d"));
  // Only with use-sigstore-attachments does containers/image look for `sha256-<hex>.sig`.
  await writeFile(join(work, "registries.d", "default.yaml"), `docker:\n  ${reg.host}:\n    use-sigstore-attachments: true\n`);
  await writeFile(join(work, "policy.json"), JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }));
});
after(async () => {
  await pool?.close();
  await reg?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

interface SigstoreSignature {
  mimeType: string;
  payload: Buffer;
  annotations: Record<string, string>;
}

/** skopeo copy to `dir:`, then the sigstore signatures it stored (`signature-N`: "\0sigstore-json\n" + JSON). */
async function signaturesViaSkopeo(ref: string, name: string): Promise<SigstoreSignature[]> {
  const dir = join(work, name);
  const args = ["--policy", join(work, "policy.json"), "--registries.d", join(work, "registries.d"), "copy", "--quiet", "--src-tls-verify=false"];
  await run("skopeo", [...args, `docker://${ref}`, `dir:${dir}`], { env: { ...process.env, HOME: work } });
  const files = (await readdir(dir)).filter((f) => /^signature-\d+$/.test(f)).sort();
  const out: SigstoreSignature[] = [];
  for (const f of files) {
    const bytes = await readFile(join(dir, f));
    const prefix = "\0sigstore-json\n";
    assert.equal(bytes.subarray(0, prefix.length).toString("latin1"), prefix, `${f} is a sigstore signature`);
    const json = JSON.parse(bytes.subarray(prefix.length).toString("utf8")) as { mimeType: string; payload: string; annotations: Record<string, string> };
    out.push({ mimeType: json.mimeType, payload: Buffer.from(json.payload, "base64"), annotations: json.annotations });
  }
  return out;
}

/** openssl's verdict on a signature: `dgst -sha256` for ECDSA (DER), `pkeyutl -rawin` for ed25519. */
async function opensslVerifies(kind: KeyKind, publicKeyPem: string, payload: Buffer, signatureB64: string, name: string): Promise<boolean> {
  const f = (x: string) => join(work, `${name}.${x}`);
  await Promise.all([writeFile(f("pub"), publicKeyPem), writeFile(f("payload"), payload), writeFile(f("sig"), Buffer.from(signatureB64, "base64"))]);
  const args =
    kind === "ed25519"
      ? ["pkeyutl", "-verify", "-pubin", "-inkey", f("pub"), "-rawin", "-in", f("payload"), "-sigfile", f("sig")]
      : ["dgst", "-sha256", "-verify", f("pub"), "-signature", f("sig"), f("payload")];
  try {
    await run("openssl", args);
    return true;
  } catch (e) {
    if ((e as { code?: unknown }).code === "ENOENT") throw e;
    return false;
  }
}

describe("cosign signatures read by skopeo and verified by openssl", () => {
  for (const kind of ["ecdsa-p256", "ed25519"] as const) {
    it(`${kind}: skopeo finds the .sig; its payload verifies with the signer's key and not with another`, async () => {
      const client = pool.client(reg.host, "destination");
      const repo = `cosign/${kind}`;
      const image = randomImage({ seed: `cosign-${kind}` });
      await pushImage(client, repo, "v1", image);
      const signer = keyPair(kind);
      const other = keyPair(kind);
      const sig = cosignSignature(image.digest, `${reg.host}/${repo}`, signer.privateKey, { more: [{ privateKey: other.privateKey }] });
      await pushImage(client, repo, sig.tag, sig);

      const found = await signaturesViaSkopeo(`${reg.host}/${repo}:v1`, kind);
      assert.equal(found.length, 2, "skopeo found both signature layers");
      for (const [i, s] of found.entries()) {
        assert.equal(s.mimeType, SIMPLE_SIGNING_MEDIA_TYPE);
        assert.deepEqual(s.payload, sig.signatures[i]?.payload);
        assert.equal(s.annotations[COSIGN_SIGNATURE_ANNOTATION], sig.signatures[i]?.signature);
      }
      const [first, second] = found as [SigstoreSignature, SigstoreSignature];
      const b64 = (s: SigstoreSignature) => s.annotations[COSIGN_SIGNATURE_ANNOTATION] ?? "";
      assert.equal(await opensslVerifies(kind, signer.publicKeyPem, first.payload, b64(first), `${kind}-1-signer`), true);
      assert.equal(await opensslVerifies(kind, other.publicKeyPem, first.payload, b64(first), `${kind}-1-other`), false);
      assert.equal(await opensslVerifies(kind, other.publicKeyPem, second.payload, b64(second), `${kind}-2-other`), true);
      // ferry's verifier agrees with openssl on what skopeo extracted.
      const [signerKey, otherKey] = parsePublicKeys([signer.publicKeyPem, other.publicKeyPem]) as [KeyObject, KeyObject];
      assert.equal(verifySimpleSigning(first.payload, b64(first), image.digest, [signerKey]), "valid");
      assert.equal(verifySimpleSigning(first.payload, b64(first), image.digest, [otherKey]), "bad-signature");
    });
  }

  it("a corrupted signature fails openssl too", async () => {
    const client = pool.client(reg.host, "destination");
    const image = randomImage({ seed: "cosign-corrupt" });
    await pushImage(client, "cosign/corrupt", "v1", image);
    const signer = keyPair("ecdsa-p256");
    const sig = cosignSignature(image.digest, `${reg.host}/cosign/corrupt`, signer.privateKey, { corrupt: "signature" });
    await pushImage(client, "cosign/corrupt", sig.tag, sig);
    const [s] = (await signaturesViaSkopeo(`${reg.host}/cosign/corrupt:v1`, "corrupt")) as [SigstoreSignature];
    assert.equal(await opensslVerifies("ecdsa-p256", signer.publicKeyPem, s.payload, s.annotations[COSIGN_SIGNATURE_ANNOTATION] ?? "", "corrupt"), false);
  });
});
