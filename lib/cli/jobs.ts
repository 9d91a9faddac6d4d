/** `ferry jobs list|show|redrive|fail|watch`: look at and steer the jobs of a running `ferry serve`. */
import { parseArgs } from "node:util";
import { FerryError } from "../errors.ts";

export const JOBS_HELP = `Usage: ferry jobs <list | show ID | redrive ID | fail ID --reason TEXT | watch ID> [options]

Look at and steer the replications of a running 'ferry serve' through its API.

  list            recent jobs, newest first (--limit N, --status S to keep one status)
  show ID         one job: status, error {code, side}, tasks, result
  redrive ID      send a stuck job's work again, or re-open one that failed with a retryable error
  fail ID         end a job that is not final with code CANCELLED (--reason TEXT)
  watch ID        follow a job until it ends; exit 0 when it succeeded or was skipped, 1 when it failed

Options:
  --server URL    the ferry serve (default $FERRY_SERVER, else http://127.0.0.1:8080)
  --token TOKEN   its API token (default $FERRY_API_TOKEN)
  --limit N       list: how many (1-100, default 20)
  --status S      list: only jobs with this status
  --reason TEXT   fail: why (shown on the job)
  --json          print the API's JSON
  -h, --help      this help
`;

interface JobView {
  id: string;
  status: string;
  source: string;
  destinations: string[];
  createdAt: string;
  progress?: { total: number; done: number; failed: number };
  error?: { code?: string; side?: string; message?: string } | string;
  tasks?: Array<{ platform: string; destination: string; state: string; error?: { code?: string } }>;
  result?: { digest?: string };
  redrives?: number;
}

const FINAL = new Set(["succeeded", "failed", "skipped"]);

type Call = (method: string, path: string, body?: unknown) => Promise<Record<string, unknown>>;

/** Calls ferry serve's API; HTTP failures become coded errors. */
function apiClient(server: string, token: string | undefined): Call {
  return async (method, path, body) => {
    let res: Response;
    try {
      res = await fetch(`${server}${path}`, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (e) {
      throw new FerryError("NETWORK", `cannot reach ferry serve at ${server}: ${(e as Error).message}`);
    }
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (res.status === 404) throw new FerryError("NOT_FOUND", String(json.error ?? `${path}: not found`));
    if (res.status === 409) throw new FerryError("CONFLICT", String(json.error ?? "conflict"));
    if (res.status === 401) throw new FerryError("AUTH", `${server} wants an API token (--token or FERRY_API_TOKEN)`);
    if (res.status >= 400) throw new FerryError("USAGE", String(json.error ?? `HTTP ${res.status}`));
    return json;
  };
}

export async function runJobs(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      server: { type: "string" },
      token: { type: "string" },
      limit: { type: "string" },
      status: { type: "string" },
      reason: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [action, id] = positionals;
  if (values.help || !action) {
    process.stdout.write(JOBS_HELP);
    return values.help ? 0 : 2;
  }
  const server = (values.server ?? process.env.FERRY_SERVER ?? "http://127.0.0.1:8080").replace(/\/$/, "");
  const call = apiClient(server, values.token ?? process.env.FERRY_API_TOKEN);
  const needId = () => {
    if (!id) throw new FerryError("USAGE", `jobs ${action} needs a job ID; see 'ferry jobs --help'`);
    return encodeURIComponent(id);
  };
  const print = (v: unknown, text: () => string) => process.stdout.write(values.json ? `${JSON.stringify(v, null, 2)}\n` : `${text()}\n`);
  const job = async (method: string, path: string, body?: unknown) => (await call(method, path, body)) as unknown as JobView;
  switch (action) {
    case "list": {
      const limit = values.limit ?? "20";
      const jobs = ((await call("GET", `/replications?limit=${encodeURIComponent(limit)}`)).jobs as JobView[]).filter(
        (j) => !values.status || j.status === values.status,
      );
      print(jobs, () => (jobs.length ? jobs.map(line).join("\n") : "no jobs"));
      return 0;
    }
    case "show": {
      const j = await job("GET", `/replications/${needId()}`);
      print(j, () => details(j));
      return 0;
    }
    case "redrive": {
      const j = await job("POST", `/replications/${needId()}/redrive`);
      print(j, () => `re-driven: ${line(j)}`);
      return 0;
    }
    case "fail": {
      if (!values.reason) throw new FerryError("USAGE", "jobs fail needs --reason TEXT");
      const j = await job("POST", `/replications/${needId()}/fail`, { reason: values.reason });
      print(j, () => `failed: ${line(j)}`);
      return 0;
    }
    case "watch":
      return watch(() => job("GET", `/replications/${needId()}`), values.json === true);
    default:
      throw new FerryError("USAGE", `unknown jobs action ${JSON.stringify(action)}; see 'ferry jobs --help'`);
  }
}

/** Prints each change of a job's line until it is final; exit status 1 when it failed. */
async function watch(get: () => Promise<JobView>, json: boolean): Promise<number> {
  let last = "";
  for (;;) {
    const job = await get();
    const now = line(job);
    if (now !== last && !json) process.stdout.write(`${new Date().toISOString()} ${now}\n`);
    last = now;
    if (FINAL.has(job.status)) {
      if (json) process.stdout.write(`${JSON.stringify(job, null, 2)}\n`);
      return job.status === "failed" ? 1 : 0;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

function errorCode(e: JobView["error"]): string {
  if (!e) return "";
  return typeof e === "string" ? e : [e.code, e.side].filter(Boolean).join(" ");
}

/** One line: id, status, progress, source → destinations, error code. */
function line(j: JobView): string {
  const progress = j.progress ? ` ${j.progress.done}/${j.progress.total}${j.progress.failed ? ` (${j.progress.failed} failed)` : ""}` : "";
  const error = j.error ? ` [${errorCode(j.error)}]` : "";
  return `${j.id}  ${j.status}${progress}${error}  ${j.source} → ${j.destinations.join(", ")}`;
}

function details(j: JobView): string {
  const out = [line(j), `created ${j.createdAt}${j.redrives ? `, re-driven ${j.redrives}×` : ""}`];
  if (j.error && typeof j.error !== "string") out.push(`error: ${errorCode(j.error)}: ${j.error.message ?? ""}`);
  for (const t of j.tasks ?? []) out.push(`  ${t.state.padEnd(8)} ${t.platform || "(image)"} → ${t.destination}${t.error?.code ? ` [${t.error.code}]` : ""}`);
  if (j.result?.digest) out.push(`result: ${j.result.digest}`);
  return out.join("\n");
}
