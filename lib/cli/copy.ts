/** `ferry copy SRC DST`: copy an image between registries and OCI layouts. */
import { parseArgs } from "node:util";
import { errorCodes, FerryError } from "../errors.ts";
import { parsePlatform } from "../oci/platform.ts";
import { type CopyResult, copyImage } from "../replicate/copy.ts";
import { DEFAULT_JOBS } from "../replicate/copy-session.ts";
import { formatLocation, parseLocation } from "../replicate/location.ts";
import { openStore } from "../replicate/open.ts";
import { formatBytes, formatDuration, shortDigest } from "./format.ts";
import { createProgress } from "./progress.ts";
import { credsFlag, poolFromFlags, REGISTRY_HELP, REGISTRY_OPTIONS, TRANSFER_HELP, TRANSFER_OPTIONS } from "./registry-flags.ts";

export const COPY_HELP = `Usage: ferry copy [options] SRC DST

Copy an image — every platform, byte for byte — from SRC to DST. Blobs the destination has are
skipped, blobs on the same registry are mounted, the rest are streamed and verified. Child
manifests go first, then what refers to the image (cosign signatures, attestations and SBOMs;
OCI 1.1 referrers, through the referrers API or its fallback tag), the tag last.

SRC and DST are registry references (host[:port]/repo[:tag][@digest]; docker.io defaults apply)
or OCI image layout directories (oci:PATH[:TAG]). Without a tag, DST takes SRC's tag.

Options:
  --platform OS/ARCH[/VARIANT]  copy only these platforms (repeatable); the index is rebuilt
  --merge                  keep the destination tag's platforms that SRC lacks
  --include-foreign        copy foreign/non-distributable layers when SRC has them
  --referrers all|none     copy what refers to the image (default all)
  --referrer-type TYPE     only referrers of this artifactType (repeatable), e.g.
                           application/vnd.dev.cosign.simplesigning.v1+json for cosign signatures
  --dry-run                print what would be copied, skipped and mounted; write nothing
  --json                   print the result as JSON on stdout
  --jobs N                 concurrent blob transfers (default ${DEFAULT_JOBS})
  --src-creds USER:PASS    credentials for SRC's registry
  --dest-creds USER:PASS   credentials for DST's registry
  -q, --quiet              no progress output
  -h, --help               this help
${REGISTRY_HELP}
${TRANSFER_HELP}

Exit status: 0 copied (or already up to date), 1 the copy failed, 2 usage error.

Examples:
  ferry copy docker.io/library/alpine:3.20 registry.example.com/mirror/alpine:3.20
  ferry copy --platform linux/amd64 --platform linux/arm64 ghcr.io/org/app:v1 127.0.0.1:5000/app:v1
  ferry copy oci:./build/app:dev registry.example.com/app:dev
  ferry copy --json --quiet quay.io/org/tool@sha256:… oci:/srv/export:tool
`;

/** `ferry copy`'s arguments, checked. */
function parseCopyArgs(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      platform: { type: "string", multiple: true },
      merge: { type: "boolean" },
      "include-foreign": { type: "boolean" },
      referrers: { type: "string" },
      "referrer-type": { type: "string", multiple: true },
      "dry-run": { type: "boolean" },
      json: { type: "boolean" },
      jobs: { type: "string" },
      "src-creds": { type: "string" },
      "dest-creds": { type: "string" },
      quiet: { type: "boolean", short: "q" },
      help: { type: "boolean", short: "h" },
      ...REGISTRY_OPTIONS,
      ...TRANSFER_OPTIONS,
    },
  });
  if (values.help) return { help: true as const };
  if (positionals.length !== 2) throw new FerryError("USAGE", `copy needs SRC and DST (got ${positionals.length} arguments); see 'ferry copy --help'`);
  const jobs = values.jobs === undefined ? undefined : Number(values.jobs);
  if (jobs !== undefined && (!Number.isInteger(jobs) || jobs < 1 || jobs > 64)) throw new FerryError("USAGE", "--jobs must be an integer from 1 to 64");
  if (values.referrers !== undefined && values.referrers !== "all" && values.referrers !== "none") {
    throw new FerryError("USAGE", `--referrers wants all or none, not ${JSON.stringify(values.referrers)}`);
  }
  if (values.referrers === "none" && values["referrer-type"])
    throw new FerryError("USAGE", "--referrer-type filters referrers; it cannot go with --referrers none");
  const location = (s: string) => {
    try {
      return parseLocation(s);
    } catch (e) {
      throw e instanceof FerryError && e.code === "INVALID_REFERENCE" ? new FerryError("USAGE", e.message) : e;
    }
  };
  return {
    help: false as const,
    values,
    src: location(positionals[0] as string),
    dst: location(positionals[1] as string),
    jobs,
    platforms: values.platform?.map(parsePlatform),
    srcCreds: credsFlag(values["src-creds"], "--src-creds"),
    dstCreds: credsFlag(values["dest-creds"], "--dest-creds"),
  };
}

/** Runs `ferry copy`; returns the exit status. */
export async function runCopy(argv: string[]): Promise<number> {
  const args = parseCopyArgs(argv);
  if (args.help) {
    process.stdout.write(COPY_HELP);
    return 0;
  }
  const { values, src, dst, jobs, platforms } = args;
  const pool = poolFromFlags(values);
  // Progress goes to stderr, so it never mixes with --json on stdout.
  const progress = createProgress(process.stderr, { quiet: values.quiet === true });
  const srcRef = src.digest ?? src.tag ?? "latest";
  const dstRef = dst.tag ?? (src.digest && !src.tag ? undefined : (src.tag ?? "latest"));
  const abort = new AbortController();
  const onSignal = () => abort.abort(new FerryError("ABORTED", "interrupted"));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const source = openStore(src, pool, "source", args.srcCreds);
    const sink = openStore(dst, pool, "destination", args.dstCreds);
    if (!values.quiet && !values.json) process.stderr.write(`${values["dry-run"] ? "Planning" : "Copying"} ${formatLocation(src)} → ${formatLocation(dst)}\n`);
    const result = await copyImage(source, srcRef, sink, dstRef, {
      ...(platforms ? { platforms } : {}),
      merge: values.merge === true,
      includeForeign: values["include-foreign"] === true,
      dryRun: values["dry-run"] === true,
      referrers: values.referrers === "none" ? false : { ...(values["referrer-type"] ? { artifactTypes: values["referrer-type"] } : {}) },
      ...(jobs ? { jobs } : {}),
      signal: abort.signal,
      onEvent: (e) => progress.onEvent(e),
    });
    progress.stop();
    if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else if (!values.quiet) process.stderr.write(summary(result));
    return 0;
  } catch (e) {
    progress.stop();
    // The first failure ends the copy: stop the transfers still running rather than wait for them.
    abort.abort(new FerryError("ABORTED", "another transfer of this copy failed"));
    throw describeFailure(e, formatLocation(src), formatLocation(dst));
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await pool.close();
  }
}

/** One line per referrer: what it is, what it refers to, what was done. */
function referrerLines(r: CopyResult): string[] {
  const verb = { pushed: "copied", exists: "already there", "would-push": "would copy" } as const;
  return r.referrers.map(
    (x) => `  referrer   ${shortDigest(x.digest)} ${x.tag ? `cosign ${x.tag}` : (x.artifactType ?? "artifact")} → ${shortDigest(x.subject)}: ${verb[x.action]}`,
  );
}

function summary(r: CopyResult): string {
  if (r.upToDate) return [`Up to date: ${r.addressByTag ?? r.addressByDigest} is ${shortDigest(r.digest)}`, ...referrerLines(r), ""].join("\n");
  const verb = r.dryRun ? "Would copy" : "Copied";
  const lines = [
    `${verb} ${r.source} → ${r.destination}`,
    `  digest     ${r.digest}${r.indexRebuilt ? ` (index rebuilt; source ${r.sourceDigest})` : ""}`,
    `  platforms  ${r.platforms.length ? r.platforms.join(", ") : "-"}`,
    `  blobs      ${r.blobs.copied} copied (${formatBytes(r.bytes)}), ${r.blobs.skipped} skipped, ${r.blobs.mounted} mounted${r.blobs.foreignSkipped ? `, ${r.blobs.foreignSkipped} foreign not copied` : ""}`,
    `  time       ${formatDuration(r.durationMs)}`,
  ];
  lines.push(...referrerLines(r));
  if (!r.dryRun) lines.push(`  by digest  ${r.addressByDigest}`);
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  return `${lines.join("\n")}\n`;
}

/** Says which side failed, the reference, and the registry's error code. */
function describeFailure(e: unknown, src: string, dst: string): unknown {
  if (!(e instanceof FerryError) || e.code === "USAGE") return e;
  const where = e.side === "source" ? `source ${src}` : e.side === "destination" ? `destination ${dst}` : `${src} → ${dst}`;
  const wrapped = new FerryError(e.code, `copy failed at the ${where}: [${errorCodes(e)}] ${e.message}`, { retryable: e.retryable, cause: e });
  if (e.side) wrapped.side = e.side;
  return wrapped;
}
