/** `ferry jobs list|show|redrive|fail|watch`: look at and steer the jobs of a running `ferry serve`, or of the API on AWS. */
import { parseArgs } from "node:util";
import { FerryError } from "../errors.ts";
import { executeApiRegion, executeApiSigner, type RequestSigner } from "./sigv4.ts";

export const JOBS_HELP = `Usage: ferry jobs <list | show ID | redrive ID | fail ID --reason TEXT | watch ID> [options]

Look at and steer the replications of a running 'ferry serve', or of ferry on AWS, through its API.

  list            recent jobs, newest first (--limit N, --status S to keep one status)
  show ID         one job: status, error {code, side}, tasks, result
  redrive ID      send a stuck job's work again, or re-open one that failed with a retryable error
  fail ID         end a job that is not final with code CANCELLED (--reason TEXT)
  watch ID        follow a job until it ends; exit 0 when it succeeded or was skipped, 1 when it failed

Options:
  --server URL    the ferry serve, or on AWS the API (stack output ApiUrl)
                  (default $FERRY_SERVER, else http://127.0.0.1:8080)
  --token TOKEN   its API token (default $FERRY_API_TOKEN)
  --aws           sign requests with AWS SigV4 (service execute-api), as the API on AWS wants;
                  on by itself for an https://<id>.execute-api.<region>.amazonaws.com server.
                  Credentials from the AWS SDK's chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
                  (and AWS_SESSION_TOKEN), AWS_PROFILE, SSO, web identity, container or instance role
  --region R      the API's region (default: from the server's host, else $AWS_REGION)
  --limit N       list: how many (1-100, default 20)
  --status S      list: only jobs with this status
  --reason TEXT   fail: why (shown on the job)
  --json          print the API's JSON; a failure prints {"error": {"code", "message"}}
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

/** How requests prove who sends them: ferry serve's Bearer token, or SigV4 for the API on AWS. */
type Auth = { token?: string } | { sign: RequestSigner };

/** Calls ferry's API; HTTP failures become coded errors. */
function apiClient(server: string, auth: Auth): Call {
  return async (method, path, body) => {
    const url = new URL(`${server}${path}`);
    const text = body === undefined ? undefined : JSON.stringify(body);
    let headers: Record<string, string> = text === undefined ? {} : { "content-type": "application/json" };
    if ("sign" in auth) headers = await auth.sign(method, url, headers, text);
    else if (auth.token) headers.authorization = `Bearer ${auth.token}`;
    let res: Response;
    try {
      res = await fetch(url, { method, headers, ...(text === undefined ? {} : { body: text }) });
    } catch (e) {
      throw new FerryError("NETWORK", `cannot reach ${server}: ${(e as Error).message}`);
    }
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    const said = String(json.error ?? json.message ?? `HTTP ${res.status}`);
    if (res.status === 404) throw new FerryError("NOT_FOUND", String(json.error ?? `${path}: not found`));
    if (res.status === 409) throw new FerryError("CONFLICT", said);
    if (res.status === 401) throw new FerryError("AUTH", `${server} wants an API token (--token or FERRY_API_TOKEN)`);
    if (res.status === 403 && "sign" in auth) {
      throw new FerryError(
        "AUTH",
        `${server} refused the signed request (403: ${said}): check the region and that your identity may execute-api:Invoke the API`,
      );
    }
    if (res.status === 403) throw new FerryError("AUTH", `${server} refused the request (403: ${said}); on AWS, sign it with --aws`);
    if (res.status >= 400) throw new FerryError("USAGE", said);
    return json;
  };
}

/** The request signer when the server is ferry's API on AWS (asked with --aws, or an execute-api host). */
function awsAuth(server: string, aws: boolean | undefined, region: string | undefined): Auth | undefined {
  const fromHost = executeApiRegion(new URL(server).hostname);
  if (!aws && !fromHost) return undefined;
  const r = region ?? fromHost ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!r) throw new FerryError("USAGE", "--aws needs the API's region: --region R or AWS_REGION");
  return { sign: executeApiSigner(r) };
}

export async function runJobs(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      server: { type: "string" },
      token: { type: "string" },
      aws: { type: "boolean" },
      region: { type: "string" },
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
  if (!URL.canParse(server)) throw new FerryError("USAGE", `--server ${JSON.stringify(server)} is not a URL`);
  const auth = awsAuth(server, values.aws, values.region) ?? { token: values.token ?? process.env.FERRY_API_TOKEN };
  try {
    return await act(action, id, values, apiClient(server, auth));
  } catch (e) {
    if (!(e instanceof FerryError) || e.code === "USAGE") throw e;
    // Coded: the code for scripts (and --json), the message for people.
    if (values.json) process.stdout.write(`${JSON.stringify({ error: { code: e.code, message: e.message } }, null, 2)}\n`);
    process.stderr.write(`ferry: jobs ${action}: [${e.code}] ${e.message}\n`);
    return 1;
  }
}

/** One action against the API. */
async function act(
  action: string,
  id: string | undefined,
  values: { limit?: string; status?: string; reason?: string; json?: boolean },
  call: Call,
): Promise<number> {
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
