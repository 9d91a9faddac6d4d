/** `ferry copy SRC DST`: copy an image between registries and OCI layouts. */
import { parseArgs } from "node:util";
import { writeFile } from "node:fs/promises";
import { errorCodes, errorRecord, FerryError } from "../errors.ts";
import { parsePlatform } from "../oci/platform.ts";
import { type CopyResult, copyToMany } from "../replicate/copy.ts";
import { DEFAULT_JOBS } from "../replicate/copy-session.ts";
import { formatLocation } from "../replicate/location.ts";
import { OciLayoutStore } from "../replicate/oci-layout.ts";
import { openStore } from "../replicate/open.ts";
import { formatBytes, formatDuration, shortDigest } from "./format.ts";
import { createProgress } from "./progress.ts";
import { credsFlag, locationArg, poolFromFlags, REGISTRY_HELP, REGISTRY_OPTIONS, TRANSFER_HELP, TRANSFER_OPTIONS } from "./registry-flags.ts";

export const COPY_HELP = `Usage: ferry copy [options] SRC DST [DST...]

Copy an image — every platform, byte for byte — from SRC to DST. Blobs the destination has are
skipped, blobs on the same registry are mounted, the rest are streamed and verified. Child
manifests go first, then what refers to the image (cosign signatures, attestations and SBOMs;
OCI 1.1 referrers, through the referrers API or its fallback tag), the tag last.

SRC and DST are registry references (host[:port]/repo[:tag][@digest]; docker.io defaults apply)
or OCI image layout directories (oci:PATH[:TAG]). Without a tag, DST takes SRC's tag. With
several DSTs the source is read once: each blob is streamed to every destination that needs it
(a second repository on the same registry mounts it); a destination that fails is named and the
others go on.

Options:
  --platform OS/ARCH[/VARIANT]  copy only these platforms (repeatable); the index is rebuilt
  --merge                  keep the destination tag's platforms that SRC lacks
  --to-index               push a single-platform image as a one-entry index with its platform
                           (with --merge: it joins the destination's index)
  --include-foreign        copy foreign/non-distributable layers when SRC has them
  --convert-schema1        convert a Docker schema 1 image to schema 2 (new digest); without
                           it, only when DST refuses schema 1
  --referrers all|none     copy what refers to the image (default all)
  --referrer-type TYPE     only referrers of this artifactType (repeatable), e.g.
                           application/vnd.dev.cosign.simplesigning.v1+json for cosign signatures
  --dry-run                print what would be copied, skipped and mounted; write nothing
  --json                   print the result as JSON on stdout (an array with several DSTs)
  --digestfile PATH        write the digest pushed to PATH (as skopeo does)
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
  ferry copy ghcr.io/org/app:v1 mirror-a.example.com/app:v1 mirror-b.example.com/app:v1
  ferry copy --to-index --merge 127.0.0.1:5000/app:v1-arm64 127.0.0.1:5000/app:v1
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
      "to-index": { type: "boolean" },
      digestfile: { type: "string" },
      "include-foreign": { type: "boolean" },
      "convert-schema1": { type: "boolean" },
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
  if (positionals.length < 2)
    throw new FerryError("USAGE", `copy needs SRC and at least one DST (got ${positionals.length} arguments); see 'ferry copy --help'`);
  const jobs = values.jobs === undefined ? undefined : Number(values.jobs);
  if (jobs !== undefined && (!Number.isInteger(jobs) || jobs < 1 || jobs > 64)) throw new FerryError("USAGE", "--jobs must be an integer from 1 to 64");
  if (values.referrers !== undefined && values.referrers !== "all" && values.referrers !== "none") {
    throw new FerryError("USAGE", `--referrers wants all or none, not ${JSON.stringify(values.referrers)}`);
  }
  if (values.referrers === "none" && values["referrer-type"])
    throw new FerryError("USAGE", "--referrer-type filters referrers; it cannot go with --referrers none");
  return {
    help: false as const,
    values,
    src: locationArg(positionals[0] as string),
    dsts: positionals.slice(1).map(locationArg),
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
  const { values, src, dsts, jobs, platforms } = args;
  const pool = poolFromFlags(values);
  // Progress goes to stderr, so it never mixes with --json on stdout.
  const progress = createProgress(process.stderr, { quiet: values.quiet === true });
  // A layout named without a ref means its only image (or a usage error listing them), as skopeo reads it.
  const srcRef = src.digest ?? src.tag ?? (src.kind === "oci" ? await new OciLayoutStore(src.dir).onlyImage() : "latest");
  const abort = new AbortController();
  const onSignal = () => abort.abort(new FerryError("ABORTED", "interrupted"));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const source = openStore(src, pool, "source", args.srcCreds);
    const targets = dsts.map((dst) => {
      const tag = dst.tag ?? (src.digest && !src.tag ? undefined : (src.tag ?? "latest"));
      return { sink: openStore(dst, pool, "destination", args.dstCreds), ...(tag ? { tag } : {}) };
    });
    if (!values.quiet && !values.json) {
      process.stderr.write(`${values["dry-run"] ? "Planning" : "Copying"} ${formatLocation(src)} → ${dsts.map(formatLocation).join(", ")}\n`);
    }
    const results = await copyToMany(source, srcRef, targets, {
      ...(platforms ? { platforms } : {}),
      merge: values.merge === true,
      toIndex: values["to-index"] === true,
      includeForeign: values["include-foreign"] === true,
      convertSchema1: values["convert-schema1"] === true,
      dryRun: values["dry-run"] === true,
      referrers: values.referrers === "none" ? false : { ...(values["referrer-type"] ? { artifactTypes: values["referrer-type"] } : {}) },
      ...(jobs ? { jobs } : {}),
      signal: abort.signal,
      onEvent: (e) => progress.onEvent(e),
    });
    progress.stop();
    return await report(results, {
      json: values.json === true,
      quiet: values.quiet === true,
      digestfile: values.digestfile,
      src: formatLocation(src),
      dsts: dsts.map(formatLocation),
    });
  } catch (e) {
    progress.stop();
    abort.abort(new FerryError("ABORTED", "the copy failed"));
    throw describeFailure(e, formatLocation(src), dsts.map(formatLocation).join(", "));
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await pool.close();
  }
}

/**
 * Prints the results (JSON: one object, or an array with several destinations), writes the
 * digest file, and fails (exit 1) naming each destination that failed.
 */
async function report(
  results: CopyResult[],
  o: { json: boolean; quiet: boolean; digestfile: string | undefined; src: string; dsts: string[] },
): Promise<number> {
  const failed = results.flatMap((r, i) => (r.error === undefined ? [] : [describeFailure(r.error, o.src, o.dsts[i] ?? r.destination)]));
  if (results.length === 1 && failed[0]) throw failed[0];
  const done = results.filter((r) => r.error === undefined);
  if (o.digestfile && done[0]) await writeFile(o.digestfile, done[0].digest);
  const shown = results.map(({ error, ...r }) => (error === undefined ? r : { ...r, error: errorRecord(error) }));
  if (o.json) process.stdout.write(`${JSON.stringify(shown.length === 1 ? shown[0] : shown, null, 2)}\n`);
  else if (!o.quiet) for (const r of done) process.stderr.write(summary(r));
  if (failed.length === 0) return 0;
  for (const f of failed) process.stderr.write(`ferry: ${(f as Error).message}\n`);
  return 1;
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
    `  digest     ${r.digest}${r.indexRebuilt ? ` (index rebuilt; source ${r.sourceDigest})` : r.converted ? ` (converted from ${r.converted}; source ${r.sourceDigest})` : ""}`,
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
