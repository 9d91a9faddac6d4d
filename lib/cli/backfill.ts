/** `ferry backfill --config FILE [--rule NAME] [--dry-run] [--server URL]`. */
import { parseArgs } from "node:util";
import { loadConfigFile, secretFrom } from "../config.ts";
import { FerryError } from "../errors.ts";
import { type BackfillCounts, backfillRule } from "../pipeline/backfill.ts";
import { poolFromConfig } from "../pipeline/registries.ts";

export const BACKFILL_HELP = `Usage: ferry backfill --config FILE [--rule NAME] [--dry-run | --server URL [--token TOKEN]] [--json]

For each rule (or the one named), list the source repositories' tags, apply the rule's tag
filters, compare every kept tag with its destinations by HEAD, and queue a replication for each
one missing or different — through a running 'ferry serve' (--server), deduplicated so a second
run queues nothing already queued. --dry-run only counts.

Options:
  --config FILE      the ferry config (rules, registries)
  --rule NAME        only this rule (default: every rule with a backfill section)
  --dry-run          compare and count; queue nothing
  --server URL       the ferry serve to queue into (default http://127.0.0.1:8080)
  --token TOKEN      its API token (default: the config's api.token)
  --json             print the counts as JSON
  -h, --help         this help
`;

export async function runBackfill(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string" },
      rule: { type: "string" },
      "dry-run": { type: "boolean" },
      server: { type: "string" },
      token: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(BACKFILL_HELP);
    return 0;
  }
  if (!values.config) throw new FerryError("USAGE", "backfill needs --config FILE; see 'ferry backfill --help'");
  const config = await loadConfigFile(values.config);
  const rules = values.rule ? config.rules.filter((r) => r.name === values.rule) : config.rules.filter((r) => r.backfill);
  if (values.rule && rules.length === 0) throw new FerryError("USAGE", `no rule named ${values.rule}`);
  if (rules.length === 0) throw new FerryError("USAGE", "no rule has a backfill section; name one with --rule");
  const server = (values.server ?? "http://127.0.0.1:8080").replace(/\/$/, "");
  const token = values.token ?? secretFrom(config.api.token, config.api.tokenEnv);
  const pool = poolFromConfig(config);
  const results: Record<string, BackfillCounts> = {};
  const log = { info() {}, warn: (m: string) => process.stderr.write(`${m}\n`), error: (m: string) => process.stderr.write(`${m}\n`) };
  try {
    for (const rule of rules) {
      const { counts } = await backfillRule(
        pool,
        rule,
        async (request, jobId) => {
          const res = await fetch(`${server}/replications`, {
            method: "POST",
            headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
            body: JSON.stringify({
              source: request.source,
              destinations: request.destinations,
              platforms: request.platforms,
              merge: request.merge,
              rule: rule.name,
              dedupKey: jobId,
            }),
          });
          const body = (await res.json()) as { created?: boolean; error?: string };
          if (res.status !== 202) throw new FerryError("REGISTRY", `ferry serve at ${server} refused a replication: HTTP ${res.status} ${body.error ?? ""}`);
          return body.created !== false;
        },
        log,
        { dryRun: values["dry-run"] === true },
      );
      results[rule.name] = counts;
      if (!values.json) {
        process.stdout.write(
          `${rule.name}: ${counts.repositories} repositories, ${counts.listed} tags listed, ${counts.skippedByFilter} skipped by filter, ${counts.upToDate} up to date, ${counts.enqueued} ${values["dry-run"] ? "would be queued" : "queued"}, ${counts.alreadyQueued} already queued\n`,
        );
      }
    }
    if (values.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    return 0;
  } finally {
    await pool.close();
  }
}
