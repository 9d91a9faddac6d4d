/** skopeo, the independent verifier of what ferry pushed. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** `skopeo inspect --raw`: the exact manifest bytes the registry serves. */
export async function skopeoInspectRaw(ref: string, opts: { tlsVerify?: boolean; creds?: string; certDir?: string } = {}): Promise<Buffer> {
  const args = ["inspect", "--raw", `--tls-verify=${opts.tlsVerify ?? false}`];
  if (opts.creds) args.push("--creds", opts.creds);
  if (opts.certDir) args.push("--cert-dir", opts.certDir);
  const { stdout } = await run("skopeo", [...args, `docker://${ref}`], { encoding: "buffer", maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/**
 * `skopeo copy --all --preserve-digests` into a `dir:` directory, which re-verifies every blob's
 * digest. (`dir:` rather than `oci:`: skopeo 1.9 cannot write a Docker list into an OCI layout.)
 */
export async function skopeoCopyToLayout(ref: string, dir: string, opts: { creds?: string } = {}): Promise<void> {
  const args = ["copy", "--all", "--preserve-digests", "--src-tls-verify=false", "--quiet"];
  if (opts.creds) args.push("--src-creds", opts.creds);
  await run("skopeo", [...args, `docker://${ref}`, `dir:${dir}`], { maxBuffer: 16 * 1024 * 1024, env: { ...process.env, HOME: dir } });
}
