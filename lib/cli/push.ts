/** `ferry push DIR DST`: an unpacked root filesystem becomes a reproducible one-layer image (or a layer on a base) at DST. */
import { parseArgs } from "node:util";
import { errorCodes, FerryError } from "../errors.ts";
import { parsePlatform } from "../oci/platform.ts";
import { hostPlatform, type ImageSettings } from "../push/config.ts";
import { type PushEvent, type PushResult, pushTree } from "../push/push.ts";
import { formatLocation } from "../replicate/location.ts";
import { openStore } from "../replicate/open.ts";
import { formatBytes, formatDuration, shortDigest } from "./format.ts";
import { createProgress } from "./progress.ts";
import { credsFlag, locationArg, poolFromFlags, REGISTRY_HELP, REGISTRY_OPTIONS, TRANSFER_HELP, TRANSFER_OPTIONS } from "./registry-flags.ts";

export const PUSH_HELP = `Usage: ferry push [options] DIR DST

Turn DIR, an unpacked root filesystem, into an image and push it to DST: one gzipped tar layer
(modes with setuid/setgid/sticky, symlinks, hard links, empty directories; owners 0:0; device
files, sockets and FIFOs are left out with a warning), a config and a manifest. The result is
reproducible: the same tree gives the same digest, whatever the times and owners on disk.
Nothing is held in memory: the layer is hashed in a first pass and streamed again for the upload.

DST is a registry reference (host[:port]/repo[:tag]) or an OCI image layout (oci:PATH[:TAG]);
the tag defaults to latest.

Options:
  --base REF               put the layer on top of REF (an image, or an index's --platform entry);
                           its layers are skipped, mounted or copied to DST, its config is kept
                           and overridden by the flags below
  --platform OS/ARCH[/VARIANT]  the image's platform (default: this machine's, os linux); with an
                           index as --base, the entry to build on
  --format oci|docker      manifest and media types (default: the base's, else oci)
  --env K=V                set an environment variable (repeatable; replaces the base's K)
  --cmd CMD                the command: a JSON array (exec form), or a string run by /bin/sh -c
  --entrypoint CMD         the entrypoint, same forms; without --cmd it clears the base's Cmd,
                           as docker build does
  --workdir PATH           the working directory (absolute)
  --label K=V              set a label (repeatable)
  --mtime SECONDS|DATE     every file's mtime and the image's created time (default 0, the
                           epoch); SOURCE_DATE_EPOCH, when set, takes precedence
  --dry-run                compute and print the digests; write nothing, contact no destination
  --json                   print the result as JSON on stdout
  --base-creds USER:PASS   credentials for the base's registry
  --dest-creds USER:PASS   credentials for DST's registry
  -q, --quiet              no progress output
  -h, --help               this help
${REGISTRY_HELP}
${TRANSFER_HELP}

Exit status: 0 pushed (or already up to date), 1 the push failed, 2 usage error.

Examples:
  ferry push ./rootfs registry.example.com/tools/app:1.0
  ferry push --base docker.io/library/alpine:3.20 --cmd '["/app"]' ./out 127.0.0.1:5000/app:dev
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) ferry push --json ./rootfs oci:./build/app:v1
  ferry push --dry-run --format docker ./rootfs oci:/tmp/unused
`;

/** `--cmd` and `--entrypoint`: a JSON array of strings, else a shell command (Dockerfile shell form). */
export function parseCommand(s: string, flag: string): string[] {
  if (!s.trim().startsWith("[")) return ["/bin/sh", "-c", s];
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    throw new FerryError("USAGE", `${flag}: ${JSON.stringify(s)} starts like a JSON array but is not one`);
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new FerryError("USAGE", `${flag} wants a JSON array of strings`);
  return v;
}

/** `K=V` pairs with a non-empty key. */
function keyValues(list: string[] | undefined, flag: string): Array<[string, string]> {
  return (list ?? []).map((kv) => {
    const i = kv.indexOf("=");
    if (i <= 0) throw new FerryError("USAGE", `${flag} wants K=V, not ${JSON.stringify(kv)}`);
    return [kv.slice(0, i), kv.slice(i + 1)];
  });
}

/** The mtime: SOURCE_DATE_EPOCH when set, else --mtime (seconds or a date), else 0. */
export function parseMtime(sourceDateEpoch: string | undefined, flag: string | undefined): number {
  if (sourceDateEpoch !== undefined && sourceDateEpoch !== "") {
    if (!/^\d+$/.test(sourceDateEpoch))
      throw new FerryError("USAGE", `SOURCE_DATE_EPOCH must be whole seconds since the epoch (got ${JSON.stringify(sourceDateEpoch)})`);
    return Number(sourceDateEpoch);
  }
  if (flag === undefined) return 0;
  const n = /^\d+$/.test(flag) ? Number(flag) : Math.floor(Date.parse(flag) / 1000);
  if (!Number.isSafeInteger(n) || n < 0 || n > 0o77777777777)
    throw new FerryError("USAGE", `--mtime wants seconds since the epoch or a date from 1970 on, not ${JSON.stringify(flag)}`);
  return n;
}

function imageSettings(v: { env?: string[]; cmd?: string; entrypoint?: string; workdir?: string; label?: string[] }): ImageSettings {
  const s: ImageSettings = {};
  if (v.env) s.env = keyValues(v.env, "--env").map(([k, x]) => `${k}=${x}`);
  if (v.label) s.labels = Object.fromEntries(keyValues(v.label, "--label"));
  if (v.cmd !== undefined) s.cmd = parseCommand(v.cmd, "--cmd");
  if (v.entrypoint !== undefined) s.entrypoint = parseCommand(v.entrypoint, "--entrypoint");
  if (v.workdir !== undefined) {
    if (!v.workdir.startsWith("/")) throw new FerryError("USAGE", `--workdir wants an absolute path, not ${JSON.stringify(v.workdir)}`);
    s.workdir = v.workdir;
  }
  return s;
}

/** `ferry push`'s arguments, checked. */
function parsePushArgs(argv: string[], env: NodeJS.ProcessEnv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      base: { type: "string" },
      platform: { type: "string" },
      format: { type: "string" },
      env: { type: "string", multiple: true },
      cmd: { type: "string" },
      entrypoint: { type: "string" },
      workdir: { type: "string" },
      label: { type: "string", multiple: true },
      mtime: { type: "string" },
      "dry-run": { type: "boolean" },
      json: { type: "boolean" },
      "base-creds": { type: "string" },
      "dest-creds": { type: "string" },
      quiet: { type: "boolean", short: "q" },
      help: { type: "boolean", short: "h" },
      ...REGISTRY_OPTIONS,
      ...TRANSFER_OPTIONS,
    },
  });
  if (values.help) return { help: true as const };
  if (positionals.length !== 2) throw new FerryError("USAGE", `push needs DIR and DST (got ${positionals.length} arguments); see 'ferry push --help'`);
  if (values.format !== undefined && values.format !== "oci" && values.format !== "docker") {
    throw new FerryError("USAGE", `--format wants oci or docker, not ${JSON.stringify(values.format)}`);
  }
  const dst = locationArg(positionals[1] as string);
  if (dst.digest) throw new FerryError("USAGE", "push writes a tag: DST takes a tag, not a digest");
  const base = values.base === undefined ? undefined : locationArg(values.base);
  return {
    help: false as const,
    values,
    tree: positionals[0] as string,
    dst,
    base,
    format: values.format as "oci" | "docker" | undefined,
    platform: values.platform ? parsePlatform(values.platform) : hostPlatform(),
    settings: imageSettings(values),
    mtime: parseMtime(env.SOURCE_DATE_EPOCH, values.mtime),
    baseCreds: credsFlag(values["base-creds"], "--base-creds"),
    dstCreds: credsFlag(values["dest-creds"], "--dest-creds"),
  };
}

/** Runs `ferry push`; returns the exit status. */
export async function runPush(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const args = parsePushArgs(argv, env);
  if (args.help) {
    process.stdout.write(PUSH_HELP);
    return 0;
  }
  const { values, dst, base } = args;
  const pool = poolFromFlags(values);
  const quiet = values.quiet === true || values.json === true;
  const progress = createProgress(process.stderr, { quiet: values.quiet === true });
  const abort = new AbortController();
  const onSignal = () => abort.abort(new FerryError("ABORTED", "interrupted"));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const sink = openStore(dst, pool, "destination", args.dstCreds);
    if (!quiet) process.stderr.write(`${values["dry-run"] ? "Computing" : "Pushing"} ${args.tree} → ${formatLocation(dst)}\n`);
    const result = await pushTree(sink, {
      tree: args.tree,
      tag: dst.tag ?? "latest",
      format: args.format,
      platform: args.platform,
      platformExplicit: values.platform !== undefined,
      settings: args.settings,
      mtime: args.mtime,
      base: base && {
        source: openStore(base, pool, "source", args.baseCreds),
        ref: base.digest ?? base.tag ?? "latest",
        name: formatLocation(base),
      },
      dryRun: values["dry-run"] === true,
      signal: abort.signal,
      onEvent: (e) => onEvent(e, progress, values.quiet === true),
    });
    progress.stop();
    if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else if (!values.quiet) process.stderr.write(summary(result));
    return 0;
  } catch (e) {
    progress.stop();
    abort.abort(new FerryError("ABORTED", "another transfer of this push failed"));
    throw describeFailure(e, args.tree, formatLocation(dst));
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await pool.close();
  }
}

function onEvent(e: PushEvent, progress: ReturnType<typeof createProgress>, quiet: boolean): void {
  if (e.type === "skip") {
    // A skipped path is a warning: shown unless --quiet, also with --json (stderr), and listed in the result.
    if (!quiet) process.stderr.write(`warning: skipped ${e.path}: ${e.why}\n`);
  } else if (e.type === "measured") {
    if (!quiet)
      process.stderr.write(
        `layer ${shortDigest(e.layer.digest)} ${formatBytes(e.layer.size)} (tar ${formatBytes(e.layer.tarSize)}, diff_id ${shortDigest(e.layer.diffId)})\n`,
      );
  } else if (e.type === "base") {
    if (!quiet) process.stderr.write(`base ${shortDigest(e.digest)} ${e.platform}, ${e.layers} layers\n`);
  } else progress.onEvent(e);
}

function summary(r: PushResult): string {
  const verb = r.dryRun ? "Would push" : r.upToDate ? "Up to date:" : "Pushed";
  const lines = [
    `${verb} ${r.addressByTag}`,
    `  digest     ${r.digest} (${r.mediaType})`,
    `  platform   ${r.platform}`,
    `  layer      ${r.layer.digest} ${formatBytes(r.layer.size)}, diff_id ${r.layer.diffId}`,
    `  config     ${r.config.digest}`,
    `  layers     ${r.layers}${r.base ? ` (${r.base.layers} from ${r.base.name})` : ""}`,
  ];
  if (!r.dryRun && !r.upToDate) lines.push(`  blobs      ${r.blobs.pushed} pushed, ${r.blobs.skipped} skipped, ${r.blobs.mounted} mounted`);
  lines.push(`  time       ${formatDuration(r.durationMs)}`);
  if (!r.dryRun) lines.push(`  by digest  ${r.addressByDigest}`);
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  return `${lines.join("\n")}\n`;
}

/** Says which side failed (base or destination) and the error's codes. */
function describeFailure(e: unknown, tree: string, dst: string): unknown {
  if (!(e instanceof FerryError) || e.code === "USAGE") return e;
  const where = e.side === "source" ? "the base" : e.side === "destination" ? `destination ${dst}` : tree;
  const wrapped = new FerryError(e.code, `push failed at ${where}: [${errorCodes(e)}] ${e.message}`, { retryable: e.retryable, cause: e });
  if (e.side) wrapped.side = e.side;
  return wrapped;
}
