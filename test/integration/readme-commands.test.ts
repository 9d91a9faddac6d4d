/**
 * The README's commands, run as written (test/helpers/readme-commands.ts extracts them), so the
 * README cannot drift from the code. Each command is run, or has its flags checked, or is in
 * NOT_RUN with the reason; anything else fails the test, and so does a NOT_RUN entry the README
 * no longer has.
 *
 * - `ferry copy|push|inspect`: run through bash (env prefixes and `$(...)` as a shell runs them;
 *   `git` sees this checkout) against real CNCF distribution registries started here, one per
 *   example host: the command text is rewritten, each host before a `/` (`ghcr.io`,
 *   `registry.example.com`, `docker.io`, `127.0.0.1:5000`…) replaced by its local registry's
 *   `127.0.0.1:PORT`, and `oci:/abs/path` by the same path under a work directory. A source that
 *   is not there yet is seeded first with a generated image (an index of 3 platforms; a
 *   single-platform image for `--to-index`, of the platform its tag ends with; a signed schema 1
 *   image for `--convert-schema1`), an `oci:` source as a layout, a `ferry push` DIR as a small
 *   root filesystem. Each command must exit 0 and leave its registry destinations tagged.
 * - `ferry jobs …` and `curl … 127.0.0.1:8080/…`: against a real `ferry serve` (child process),
 *   its port substituted, `FERRY_SERVER` set (as the README says), and `<id>` replaced by a job
 *   that is stuck (its source accepts connections and never answers), one per block, since that
 *   is what those blocks are about. curl must get a 2xx; `ferry jobs watch` exits 1 for a failed
 *   job, else 0, as the README's comment says.
 * - `ferry config check`: run as written from the top of the checkout (relative paths that
 *   exist there are linked into the work directory) and its output compared with the README's.
 * - ferry commands that need AWS (an `amazonaws.com` host), usage lines (`ferry copy [options]
 *   SRC DST`) and the subcommands in FLAGS_ONLY (`serve`, `backfill`): every flag they use must
 *   be listed by `ferry <command> --help`. So are the flags of every command that runs.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { DOCKER_SCHEMA1_SIGNED, OCI_LAYER_GZIP } from "../../lib/oci/media-types.ts";
import { parseReference } from "../../lib/oci/reference.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { type BlackHole, startBlackHole } from "../helpers/black-hole.ts";
import { type Distribution, freePort, startDistribution } from "../helpers/distribution.ts";
import { bytesBlob, type ManifestSpec, PLATFORMS, pushImage, randomImage, randomIndex, writeOciLayout } from "../helpers/images.ts";
import { api, waitForJob } from "../helpers/pipeline.ts";
import {
  extractCommands,
  HOST_BEFORE_PATH,
  helpFlags,
  hostsIn,
  optionValue,
  positionals,
  type ReadmeCommand,
  shownLinePattern,
  splitChain,
} from "../helpers/readme-commands.ts";
import { schema1PayloadOf, signSchema1 } from "../helpers/schema1.ts";
import { spawnServe, stopServe } from "../helpers/serve-process.ts";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = join(ROOT, "bin/ferry.js");
const commands = extractCommands(readFileSync(join(ROOT, "README.md"), "utf8"));

/** Commands that cannot run here. Keep it short: each entry must still be in the README. */
const NOT_RUN = [
  { prefix: "aws cloudformation describe-stacks", why: "reads the outputs of a deployed stack: needs an AWS account" },
  { prefix: "aws sqs start-message-move-task", why: "redrives a dead-letter queue of a deployed stack: needs an AWS account" },
  { prefix: "aws sqs list-message-move-tasks", why: "lists the redrives of a deployed stack's queue: needs an AWS account" },
];

/** ferry commands whose flags are checked but which are not run, and why. */
const FLAGS_ONLY: Record<string, string> = {
  serve: "a long-running server: the commands that talk to one run against the ferry serve this test starts",
  backfill: "reads its registries from a config file, whose hosts this test cannot point at local registries",
};

/** Programs that may filter a command's output (`curl … | grep …`): the first command decides how it runs. */
const FILTERS = ["grep", "head", "tail", "jq", "sort", "wc", "cut", "awk", "sed", "cat"];

type Kind = "registry" | "serve" | "offline" | "flags" | "not-run";
const SERVE_HOST = /\b(?:127\.0\.0\.1|localhost):8080\b/g;
const namesServe = (s: string) => new RegExp(SERVE_HOST.source).test(s);

/** How the test handles `c`, or why it cannot. */
function kindOf(c: ReadmeCommand): Kind | { unknown: string } {
  if (NOT_RUN.some((n) => c.text.startsWith(n.prefix))) return "not-run";
  const chain = splitChain(c.text);
  const argv = chain[0]?.argv ?? [];
  if (argv[0] === "ferry" && (c.synopsis || /amazonaws\.com/.test(c.text) || (argv[1] ?? "") in FLAGS_ONLY)) return "flags";
  if (chain.slice(1).some((s) => !FILTERS.includes(s.argv[0] ?? ""))) return { unknown: "a chain of commands (only filters such as grep may follow)" };
  if (argv[0] === "curl") return argv.some(namesServe) ? "serve" : { unknown: "curl to a host other than ferry serve" };
  if (argv[0] !== "ferry") return { unknown: `no runner for ${argv[0]}` };
  const sub = argv[1] ?? "";
  if (["copy", "push", "inspect"].includes(sub)) return "registry";
  if (sub === "jobs") return "serve";
  if (sub === "config") return "offline";
  return { unknown: `no runner for ferry ${sub}` };
}

let tmp: string;
let work: string;
let env: NodeJS.ProcessEnv;
const registries = new Map<string, Distribution>();
let serve: ChildProcess | undefined;
let serveHost: string;
let blackHole: BlackHole;
const helps = new Map<string, Map<string, boolean>>();

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "ferry-readme-"));
  work = join(tmp, "work");
  await mkdir(join(tmp, "bin"), { recursive: true });
  await mkdir(work);
  await writeFile(join(tmp, "bin/ferry"), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} "$@"\n`);
  await chmod(join(tmp, "bin/ferry"), 0o755);
  const hosts = new Set(commands.filter((c) => kindOf(c) === "registry").flatMap((c) => hostsIn(c.text)));
  const started = await Promise.all([...hosts].map(async (h) => [h, await startDistribution({ schema1: true })] as const));
  for (const [h, d] of started) registries.set(h, d);
  blackHole = await startBlackHole(); // accepts, never answers: its jobs stay stuck
  const config = join(tmp, "ferry.yml");
  await writeFile(config, `version: 1\napi:\n  allow:\n    - { source: "127.0.0.1:*/**", destinations: ["127.0.0.1:*/**"] }\n`);
  const port = await freePort();
  serveHost = `127.0.0.1:${port}`;
  env = {
    ...process.env,
    PATH: `${join(tmp, "bin")}:${process.env.PATH}`,
    HOME: tmp,
    DOCKER_CONFIG: join(tmp, "docker"),
    // `$(git log …)` in an example reads this checkout, as it would in the reader's
    GIT_DIR: (await run("git", ["rev-parse", "--absolute-git-dir"], { cwd: ROOT })).stdout.trim(),
    FERRY_SERVER: `http://${serveHost}`,
  };
  delete env.REGISTRY_AUTH_FILE;
  delete env.FERRY_API_TOKEN;
  serve = await spawnServe(BIN, config, port, { args: ["--in-memory"], env, timeoutMs: 60_000 });
  await succeededJob();
});

/** A job that succeeded, so the examples that list or count jobs see a serve with some history. */
async function succeededJob(): Promise<void> {
  const reg = await startDistribution();
  registries.set("(serve's own)", reg);
  const client = new RegistryClient({ host: reg.host });
  await pushImage(client, "readme/app", "v1", randomIndex({ platforms: 2, seed: "readme-serve" }));
  await client.close();
  const posted = await api(`http://${serveHost}`, "POST", "/replications", { source: `${reg.host}/readme/app:v1`, destinations: [`${reg.host}/readme/copy`] });
  assert.equal(posted.status, 202);
  assert.equal((await waitForJob(`http://${serveHost}`, String(posted.body.id), undefined, 60_000)).status, "succeeded");
}

after(async () => {
  await stopServe(serve);
  await blackHole?.stop();
  await Promise.all([...registries.values()].map((d) => d.stop()));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** The options `ferry <sub> --help` lists (running it also proves the subcommand exists). */
async function flagsOf(argv: string[]): Promise<Map<string, boolean>> {
  const sub = argv[1] === "config" ? ["config", "check"] : [argv[1] ?? ""];
  const key = sub.join(" ");
  let flags = helps.get(key);
  if (!flags) {
    const { stdout } = await run(process.execPath, [BIN, ...sub, "--help"], { env }).catch((e: { code?: number }) => {
      throw new Error(`ferry ${key} --help exits ${e.code}: no such command`);
    });
    flags = helpFlags(stdout);
    helps.set(key, flags);
  }
  return flags;
}

/** Every option `c` uses is one its command lists. */
async function checkFlags(c: ReadmeCommand): Promise<void> {
  const argv = splitChain(c.text)[0]?.argv ?? [];
  const flags = await flagsOf(argv);
  const used = c.synopsis ? [...c.text.matchAll(/(?<![\w-])(--?[a-zA-Z][\w-]*)/g)].map((m) => m[1] as string) : argv.filter((a) => /^--?[a-zA-Z]/.test(a));
  for (const f of used.map((u) => u.split("=")[0] as string)) {
    assert.ok(flags.has(f), `README line ${c.line}: ${f} is not an option of ferry ${argv[1]} (its --help lists ${[...flags.keys()].join(" ")})`);
  }
}

it("every README command is run, or checked, or listed in NOT_RUN with a reason; every NOT_RUN entry is still in the README", () => {
  assert.ok(commands.length >= 20, `found ${commands.length} commands`);
  for (const c of commands) {
    const k = kindOf(c);
    assert.equal(typeof k, "string", `README line ${c.line}: \`${c.text}\`: ${typeof k === "object" ? k.unknown : ""}; run it here or add it to NOT_RUN`);
  }
  for (const n of NOT_RUN)
    assert.ok(
      commands.some((c) => c.text.startsWith(n.prefix)),
      `NOT_RUN entry "${n.prefix}" is no longer in the README: remove it`,
    );
});

it("every ferry command and usage line in the README uses only options its --help lists", async () => {
  const ferryCommands = commands.filter((c) => splitChain(c.text)[0]?.argv[0] === "ferry");
  assert.ok(ferryCommands.length >= 15);
  for (const c of ferryCommands) await checkFlags(c);
});

it("runs the README's commands in order against local registries and a ferry serve", { timeout: 300_000 }, async (t) => {
  const ids = new Map<number, string>();
  let ran = 0;
  for (const c of commands) {
    const kind = kindOf(c);
    if (kind !== "registry" && kind !== "serve" && kind !== "offline") continue;
    await t.test(`line ${c.line}: ${c.text}`, async () => {
      await linkCheckoutPaths(c.text);
      if (kind === "registry") await runRegistry(c);
      else if (kind === "serve") await runServe(c, ids);
      else await runOffline(c);
    });
    ran++;
  }
  assert.ok(ran >= 15, `${ran} commands run`);
});

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function sh(text: string): Promise<Result> {
  return new Promise((resolve) => {
    execFile("bash", ["-c", `set -o pipefail; ${text}`], { cwd: work, env, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function noPlaceholder(c: ReadmeCommand, text: string): void {
  const left = /<[A-Za-z][\w-]*>/.exec(text);
  assert.equal(left, null, `README line ${c.line}: the placeholder ${left?.[0]} has no value in this test`);
}

/** Relative paths of the command that exist in the checkout (infra/example.ferry.yml) are linked into the work directory. */
async function linkCheckoutPaths(text: string): Promise<void> {
  for (const w of splitChain(text).flatMap((s) => s.argv)) {
    if (w.startsWith("-") || w.includes(":") || !w.includes("/") || w.startsWith("/")) continue;
    const top = w.replace(/^\.\//, "").split("/")[0] as string;
    if (existsSync(join(ROOT, top)) && !existsSync(join(work, top))) await symlink(join(ROOT, top), join(work, top));
  }
}

async function runRegistry(c: ReadmeCommand): Promise<void> {
  await checkFlags(c);
  const local = (s: string) => s.replace(HOST_BEFORE_PATH, (h) => registries.get(h)?.host ?? h).replace(/(?<=^|\s)oci:\//g, `oci:${work}/`);
  const text = local(c.text);
  noPlaceholder(c, text);
  const argv = splitChain(text)[0]?.argv as string[];
  const args = argv.slice(2);
  const pos = positionals(args, await flagsOf(argv));
  const sources = argv[1] === "push" ? [optionValue(args, "--base")] : [pos[0]];
  for (const s of sources) if (s) await ensureSource(s, args);
  if (argv[1] === "push" && pos[0] && !existsSync(join(work, pos[0]))) await writeRootfs(join(work, pos[0]));
  const r = await sh(text);
  assert.equal(r.code, 0, `README line ${c.line}: \`${text}\` exits ${r.code}: ${r.stderr}`);
  const destinations = argv[1] === "copy" ? pos.slice(1) : argv[1] === "push" ? pos.slice(1) : [];
  for (const d of destinations.filter((x) => !x.startsWith("oci:"))) {
    const ref = parseReference(d);
    const client = new RegistryClient({ host: ref.registry });
    try {
      assert.ok(await client.manifestHead(ref.repository, ref.tagName ?? "latest"), `README line ${c.line}: ${d} is not there`);
    } finally {
      await client.close();
    }
  }
  compareOutput(c, r, local);
}

/** Seeds a source the README takes for granted: a registry tag or an `oci:PATH[:REF]` layout. */
async function ensureSource(source: string, args: string[]): Promise<void> {
  if (source.startsWith("oci:")) {
    const [path, ref] = source.slice(4).split(/:(.*)/s) as [string, string | undefined];
    const dir = join(work, path);
    if (!existsSync(join(dir, "index.json"))) await writeOciLayout(dir, randomIndex({ platforms: 3, seed: source }), ref || "latest");
    return;
  }
  const ref = parseReference(source);
  const client = new RegistryClient({ host: ref.registry });
  try {
    const tag = ref.tagName ?? "latest";
    if (await client.manifestHead(ref.repository, ref.digest ?? tag)) return;
    if (args.includes("--convert-schema1")) return await pushSchema1(client, ref.repository, tag);
    const arch = PLATFORMS.find((p) => tag.endsWith(`-${p.architecture}`));
    const image: ManifestSpec = args.includes("--to-index")
      ? randomImage({ platform: arch ?? PLATFORMS[0], seed: source })
      : randomIndex({ platforms: 3, seed: source });
    await pushImage(client, ref.repository, tag, image);
  } finally {
    await client.close();
  }
}

/** A signed schema 1 image with one real tar layer (its conversion reads the layer for its diff_id). */
async function pushSchema1(client: RegistryClient, repo: string, tag: string): Promise<void> {
  const dir = await mkdtemp(join(tmp, "layer-"));
  await writeFile(join(dir, "hello.txt"), "hello from schema 1\n");
  const { stdout } = await run("tar", ["--owner=0", "--group=0", "--mtime=@0", "-C", dir, "-cf", "-", "hello.txt"], { encoding: "buffer" });
  const layer = bytesBlob(gzipSync(stdout), OCI_LAYER_GZIP);
  await client.blobPut(repo, layer, async () => layer.open());
  const payload = schema1PayloadOf({ name: repo, tag, layers: [{ blobSum: layer.digest, v1Compatibility: { id: "1".repeat(64), os: "linux" } }] });
  await client.manifestPut(repo, tag, signSchema1(payload), DOCKER_SCHEMA1_SIGNED);
}

/** A small root filesystem for `ferry push DIR`: a file, an executable, a symlink, an empty directory. */
async function writeRootfs(dir: string): Promise<void> {
  await mkdir(join(dir, "etc"), { recursive: true });
  await mkdir(join(dir, "var/empty"), { recursive: true });
  await writeFile(join(dir, "etc/motd"), "built by ferry push\n");
  await writeFile(join(dir, "app"), "#!/bin/sh\necho hello\n", { mode: 0o755 });
  await symlink("app", join(dir, "start"));
}

/** A job of ferry serve that stays running: its source accepts connections and never answers. */
async function stuckJob(): Promise<string> {
  const hole = blackHole.host;
  const res = await fetch(`http://${serveHost}/replications`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ source: `${hole}/readme/app:v1`, destinations: [`${hole}/readme/copy`] }),
  });
  assert.equal(res.status, 202);
  return String(((await res.json()) as { id: string }).id);
}

async function runServe(c: ReadmeCommand, ids: Map<number, string>): Promise<void> {
  const argv = splitChain(c.text)[0]?.argv ?? [];
  const curl = argv[0] === "curl";
  if (!curl) await checkFlags(c);
  if (c.text.includes("<id>") && !ids.has(c.block)) ids.set(c.block, await stuckJob());
  // No api.token on this serve: any token passes, so `<token>` can stand for anything.
  const local = (s: string) =>
    s
      .replace(SERVE_HOST, serveHost)
      .replaceAll("<id>", ids.get(c.block) ?? "<id>")
      .replaceAll("<token>", "readme-token");
  const text = local(c.text);
  noPlaceholder(c, text);
  // --fail-with-body: an HTTP error is curl's exit status 22 (pipefail carries it through a filter).
  const r = await sh(curl ? text.replace(/^curl(?=\s)/, "curl --fail-with-body") : text);
  let expected = 0;
  if (argv[0] === "ferry" && argv[2] === "watch") {
    const job = (await (await fetch(`http://${serveHost}/replications/${ids.get(c.block)}`)).json()) as { status: string };
    expected = job.status === "failed" ? 1 : 0; // the README: exit 0 succeeded or skipped, 1 failed
  }
  assert.equal(r.code, expected, `README line ${c.line}: \`${text}\` exits ${r.code}: ${r.stderr}`);
  compareOutput(c, r, local);
}

async function runOffline(c: ReadmeCommand): Promise<void> {
  await checkFlags(c);
  noPlaceholder(c, c.text);
  const r = await sh(c.text);
  assert.equal(r.code, 0, `README line ${c.line}: \`${c.text}\` exits ${r.code}: ${r.stderr}`);
  if (c.output.length > 0) assert.deepEqual(r.stdout.trimEnd().split("\n"), c.output, `README line ${c.line}: the output shown is not what it prints`);
}

/**
 * For output shown under a command that talks to registries or ferry serve: each line shown
 * must match a line printed, `…` standing for anything, digests, ids and numbers for any.
 */
function compareOutput(c: ReadmeCommand, r: Result, rewrite: (s: string) => string): void {
  const printed = `${r.stdout}\n${r.stderr}`.split("\n");
  for (const shown of c.output) {
    const pattern = shownLinePattern(rewrite(shown));
    assert.ok(
      printed.some((p) => pattern.test(p)),
      `README line ${c.line}: shows "${shown}", which it does not print:\n${r.stdout}${r.stderr}`,
    );
  }
}
