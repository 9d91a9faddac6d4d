/** `ferry serve --config FILE [--port N]`: the whole pipeline on one machine. */
import { parseArgs } from "node:util";
import { FerryError } from "../errors.ts";
import { defaultDataDir } from "../local/data-dir.ts";
import { type LocalHandlers, type LocalRuntimeSettings, startLocal } from "../local/serve.ts";

export const SERVE_HELP = `Usage: ferry serve --config FILE [--port N] [--data-dir DIR | --in-memory] [--log-level LEVEL]

Run ferry's pipeline on this machine: the HTTP API and webhook receiver on 127.0.0.1, the plan,
copy and merge handlers fed by SQS pollers (batches, visibility timeout, partial batch failures,
redelivery, DLQ after maxReceiveCount), state in DynamoDB, and a reconciler that drives on (or
fails, with a reason) any job that stopped moving. SQS and DynamoDB run embedded (fauxqs,
dynalite) unless the environment names others:
  FERRY_SQS_ENDPOINT, FERRY_DYNAMODB_ENDPOINT          other stand-ins or endpoints
  FERRY_QUEUE_PLAN_URL/_COPY_URL/_MERGE_URL, FERRY_TABLE   existing queues and table (e.g. on AWS)

Durable by default: the embedded DynamoDB journals every job to the data directory, and
after a restart (even kill -9) every accepted job is picked up again and finishes.

Options:
  --config FILE          the YAML config (registries, webhooks, rules, api)
  --port N               HTTP port (default 8080; 0 picks a free one)
  --data-dir DIR         where state is kept (default $XDG_STATE_HOME/ferry, else ~/.local/state/ferry)
  --in-memory            keep state in memory only: a restart forgets every job
  --log-level LEVEL      handler logs: DEBUG, INFO, WARN (default), ERROR
  -h, --help             this help

Routes:
  POST /replications                {"source", "destinations": [...], "platforms"?, "merge"?} → 202 {id, status, statusUrl}
  GET  /replications/{id}           the job: status, tasks, result, error {code, side, message}
  GET  /replications?limit=N        recent jobs
  POST /replications/{id}/redrive   send a stuck job's work again, or re-open one that failed with a retryable error
  POST /replications/{id}/fail      {"reason"}: end a job that is not final (code CANCELLED)
  POST /webhooks/{provider}/{id}    registry push events
  GET  /metrics                     Prometheus metrics: jobs, tasks, bytes, blobs, durations, queues, oldest job (token when api.token is set)

Prints 'listening on http://127.0.0.1:PORT' when ready; stops cleanly on SIGINT/SIGTERM.
`;

export async function runServe(argv: string[], handlers?: (settings: LocalRuntimeSettings) => Promise<LocalHandlers>): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string" },
      port: { type: "string" },
      "data-dir": { type: "string" },
      "in-memory": { type: "boolean" },
      "log-level": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(SERVE_HELP);
    return 0;
  }
  if (!values.config) throw new FerryError("USAGE", "serve needs --config FILE; see 'ferry serve --help'");
  const port = values.port === undefined ? 8080 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new FerryError("USAGE", "--port must be 0–65535");
  if (values["in-memory"] && values["data-dir"]) throw new FerryError("USAGE", "give --data-dir or --in-memory, not both");
  const dataDir = values["in-memory"] ? false : (values["data-dir"] ?? defaultDataDir());
  // The AWS SDK warns on every start that Node 20 support ends in 2027; the README says so once.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const server = await startLocal({
    configPath: values.config,
    port,
    dataDir,
    ...(values["log-level"] ? { logLevel: values["log-level"].toUpperCase() } : {}),
    // The Lambda entry points themselves (functions/), given by the process entry.
    loadHandlers: async (settings) => {
      if (!handlers) throw new FerryError("INVALID_CONFIG", "this build of ferry has no pipeline handlers");
      return handlers(settings);
    },
    onError: (e) => process.stderr.write(`ferry serve: ${(e as Error).message}\n`),
  });
  const b = server.backends.kind;
  const state = b.dynamodb === "embedded" ? (dataDir ? `data in ${dataDir}` : "in memory: a restart forgets every job") : "external";
  process.stderr.write(
    `ferry serve: SQS ${b.sqs}, DynamoDB ${b.dynamodb} (${state}); ${server.config.rules.length} rules, ${server.config.webhooks.length} webhooks\n`,
  );
  process.stdout.write(`listening on ${server.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  process.stderr.write("ferry serve: stopping…\n");
  await server.stop();
  return 0;
}
