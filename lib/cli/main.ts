/** `ferry` command-line entry: dispatches to subcommands; exit 0 ok, 1 failure, 2 usage. */
import { FerryError } from "../errors.ts";
import type { LocalHandlers, LocalRuntimeSettings } from "../local/serve.ts";
import { runCopy } from "./copy.ts";
import { runInspect } from "./inspect.ts";
import { runPush } from "./push.ts";

export const VERSION = "0.1.0";

const HELP = `ferry ${VERSION} — replicate container images between registries, byte for byte.

Usage:
  ferry <command> [options]

Commands:
  copy SRC DST     Copy an image (all platforms, same digests) between registries and OCI layouts
  push DIR DST     Push an unpacked root filesystem as a reproducible image (optionally on a base)
  inspect REF      Print an image's tree: index, platforms, config and layers
  serve            Run the event-driven pipeline on this machine (API, webhooks, queues, state)
  backfill         Queue replications for the tags a rule's destinations lack
  config check     Validate a config file and show where sample references would go
  jobs             List, show, re-drive, fail or watch the jobs of a running ferry serve
  help             Show this help

Run 'ferry <command> --help' for a command's options.
`;

/** What the process entry (bin/cli.ts) gives the CLI: the pipeline's handlers for `ferry serve`. */
export interface CliApp {
  serveHandlers?: (settings: LocalRuntimeSettings) => Promise<LocalHandlers>;
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit status. */
export async function main(argv: string[], app: CliApp = {}): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
      case "help":
      case "--help":
      case "-h":
        process.stdout.write(HELP);
        return 0;
      case "--version":
      case "version":
        process.stdout.write(`ferry ${VERSION}\n`);
        return 0;
      case "copy":
        return await runCopy(rest);
      case "push":
        return await runPush(rest);
      case "inspect":
        return await runInspect(rest);
      case "backfill":
        return await (await import("./backfill.ts")).runBackfill(rest);
      case "jobs":
        return await (await import("./jobs.ts")).runJobs(rest);
      case "config":
        if (rest[0] !== "check") {
          process.stderr.write("ferry: usage: ferry config check FILE [REF...] (see 'ferry config check --help')\n");
          return 2;
        }
        return await (await import("./config-check.ts")).runConfigCheck(rest.slice(1));
      case "serve":
        // Loaded on demand: the pipeline brings the AWS SDK, middy and Powertools, which
        // `ferry copy` should not pay for at start-up.
        return await (await import("./serve.ts")).runServe(rest, app.serveHandlers);
      default:
        process.stderr.write(`ferry: unknown command ${JSON.stringify(cmd)}\n\n${HELP}`);
        return 2;
    }
  } catch (e) {
    // parseArgs' own errors (unknown option, missing value) are usage errors too
    const code = (e as { code?: string }).code ?? "";
    if ((e instanceof FerryError && e.code === "USAGE") || code.startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`ferry: ${(e as Error).message}\n`);
      return 2;
    }
    process.stderr.write(`ferry: ${(e as Error).message}\n`);
    return 1;
  }
}
