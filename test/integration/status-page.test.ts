/**
 * The status page in a real browser: Debian's Chromium driven by playwright-core, against a real
 * `ferry serve` (a child process) and real distribution registries. Login (a wrong token is
 * refused, the right one gives the page), the jobs listed, a running job's platforms moving to
 * done (its manifest PUTs held by a proxy), a failed job's code and side, the DLQ holding its
 * message (peeked, still there) and a retry from the page re-opening it; a job stuck on a source
 * that never answered (its delivery hangs; the queue's visibility is 30 s, so nothing else sends
 * its work again sooner) completed by a re-drive from the page once the source answers, another failed
 * from the page (all by keyboard: Tab to the control, Enter), the filters, and log-out.
 *
 * FERRY_SCREENSHOT=1 also saves docs/status-page.png. Skips only where /usr/bin/chromium is absent
 * (scripts/ensure-tools.sh installs it, or prints the command).
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, it } from "node:test";
import { RegistryClient } from "../../lib/registry/client.ts";
import { type Distribution, freePort, startDistribution } from "../helpers/distribution.ts";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.ts";
import { type HoldProxy, startHoldProxy } from "../helpers/hold-proxy.ts";
import { pushImage, randomIndex } from "../helpers/images.ts";
import { api, eventually, waitForJob, writeConfig } from "../helpers/pipeline.ts";
import { spawnServe, stopServe } from "../helpers/serve-process.ts";

const CHROMIUM = process.env.FERRY_CHROMIUM ?? "/usr/bin/chromium";
const BIN = fileURLToPath(new URL("../../bin/ferry.js", import.meta.url));
const SCREENSHOT = fileURLToPath(new URL("../../docs/status-page.png", import.meta.url));
const TOKEN = "test-token";
const skip = existsSync(CHROMIUM) ? false : `Chromium is not installed at ${CHROMIUM} (scripts/ensure-tools.sh installs Debian's chromium)`;

let dir: string;
let src: Distribution;
let dst: Distribution;
let srcFaults: FaultProxy;
let hold: HoldProxy;
let blackHole: Server;
const sockets: Socket[] = [];
/** While true the "hole" accepts connections and never answers; then it forwards them to the source registry. */
let holding = true;
let serve: ChildProcess | undefined;
let url: string;
let browser: Browser | undefined;

// playwright-core's own typings need the DOM library, which this project's typecheck leaves out
// (it would retype fetch and Buffer everywhere): the few calls used here, typed by hand.
interface Locator {
  waitFor(o?: { timeout?: number }): Promise<void>;
  filter(o: { hasText: string }): Locator;
  locator(selector: string): Locator;
  textContent(): Promise<string | null>;
  isVisible(): Promise<boolean>;
  fill(value: string): Promise<void>;
  click(): Promise<void>;
  focus(): Promise<void>;
  selectOption(value: string): Promise<unknown>;
  allInnerTexts(): Promise<string[]>;
  evaluateAll<T>(fn: (els: Array<{ getAttribute(name: string): string | null }>) => T): Promise<T>;
}
interface Page {
  goto(url: string): Promise<unknown>;
  locator(selector: string): Locator;
  getByLabel(text: string): Locator;
  getByRole(role: string, o: { name: string }): Locator;
  waitForResponse(match: (r: { url(): string; status(): number }) => boolean): Promise<{ status(): number }>;
  keyboard: { press(key: string): Promise<void>; type(text: string): Promise<void> };
  evaluate(expression: string): Promise<unknown>;
  waitForTimeout(ms: number): Promise<void>;
  screenshot(o: { path: string; fullPage: boolean }): Promise<unknown>;
  on(event: "request", f: (r: { url(): string }) => void): void;
  on(event: "console", f: (m: { type(): string; text(): string }) => void): void;
}
interface Context {
  newPage(): Promise<Page>;
  cookies(): Promise<Array<{ name: string; httpOnly: boolean; sameSite: string }>>;
  close(): Promise<void>;
}
interface Browser {
  newContext(): Promise<Context>;
  close(): Promise<void>;
}
const ACTIVE_ID = "document.activeElement ? document.activeElement.id : ''";

before(async () => {
  if (skip) return;
  dir = await mkdtemp(join(tmpdir(), "ferry-status-page-"));
  [src, dst] = await Promise.all([startDistribution(), startDistribution()]);
  // Manifests of planfail/* answer 503 until the test stops it: the plan fails on its last delivery (retryable).
  srcFaults = await startFaultProxy(src.host, { eligible: (_m, p) => p.includes("/planfail/") && p.includes("/manifests/"), afterShare: 0 });
  srcFaults.setRates({ "503": 1 });
  // Each platform's manifest PUT to slow/app waits 3 s: the page sees the tasks pending, then done.
  hold = await startHoldProxy(dst.host, 3000, (m, p) => m === "PUT" && p.startsWith("/v2/slow/app/manifests/sha256:"));
  blackHole = createServer((s) => {
    sockets.push(s);
    if (holding) return;
    const [h, p] = src.host.split(":") as [string, string];
    const up = connect(Number(p), h, () => s.pipe(up).pipe(s));
    sockets.push(up);
    up.on("error", () => s.destroy());
    s.on("error", () => up.destroy());
  });
  await new Promise<void>((r) => blackHole.listen(0, "127.0.0.1", r));
  const config = await writeConfig(
    join(dir, "ferry.yml"),
    `version: 1
api: { token: ${TOKEN}, allow: [{ source: "127.0.0.1:*/**", destinations: ["127.0.0.1:*/**"] }] }
pipeline: { visibilityTimeout: 30, maxReceiveCount: 2 }
transfer: { stallTimeout: 600 }
`,
  );
  const port = await freePort();
  serve = await spawnServe(BIN, config, port, { args: ["--in-memory"], timeoutMs: 60_000 });
  url = `http://127.0.0.1:${port}`;
  const pw = "playwright-core";
  const { chromium } = (await import(pw)) as { chromium: { launch(o: object): Promise<Browser> } };
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Playwright gives the browser a fresh, empty profile (user data dir) of its own each launch.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
  await stopServe(serve);
  for (const s of sockets) s.destroy();
  if (blackHole) await new Promise<void>((r) => blackHole.close(() => r()));
  await Promise.all([srcFaults?.stop(), hold?.stop()]);
  await Promise.all([src?.stop(), dst?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

const submit = async (source: string, destination: string) => {
  const r = await api(url, "POST", "/replications", { source, destinations: [destination] }, TOKEN);
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return String(r.body.id);
};

/** Presses Tab until the element with `id` has the focus (at most 40 times); true when it got there. */
async function tabTo(page: Page, id: string): Promise<boolean> {
  for (let i = 0; i < 40; i++) {
    if ((await page.evaluate(ACTIVE_ID)) === id) return true;
    await page.keyboard.press("Tab");
  }
  return false;
}

const taskStates = (page: Page) => page.locator("#tasks tbody td.state").allInnerTexts();
const openJob = async (page: Page, id: string) => {
  await page.goto(`${url}/#job=${encodeURIComponent(id)}`);
  await page.locator("#d-id").filter({ hasText: id }).waitFor();
};

it("the status page in Chromium: login, jobs, live tasks, a failed job's code, the DLQ, re-drive and fail by keyboard", {
  skip,
  timeout: 300_000,
}, async () => {
  const srcClient = new RegistryClient({ host: src.host });
  const fast = randomIndex({ platforms: 2, seed: "page-fast" });
  const slow = randomIndex({ platforms: 2, seed: "page-slow" });
  const flaky = randomIndex({ platforms: 1, seed: "page-planfail" });
  await Promise.all([
    pushImage(srcClient, "fast/app", "v1", fast),
    pushImage(srcClient, "slow/app", "v1", slow),
    pushImage(srcClient, "planfail/app", "v1", flaky),
    pushImage(srcClient, "stuck/app", "v1", fast),
  ]);
  await srcClient.close();
  const context = await (browser as Browser).newContext();
  const page = await context.newPage();
  const external: string[] = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(url)) external.push(r.url());
  });
  const cspErrors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") cspErrors.push(m.text());
  });

  // Login: the form first; a wrong token is refused with 401 and no cookie; the right one opens the page.
  await page.goto(url);
  await page.getByLabel("API token").fill("not-the-token");
  const [refused] = await Promise.all([page.waitForResponse((r) => r.url() === `${url}/login`), page.getByRole("button", { name: "Log in" }).click()]);
  assert.equal(refused.status(), 401);
  await page.locator("#login-error").waitFor();
  assert.deepEqual(await context.cookies(), []);
  await page.getByLabel("API token").fill(TOKEN);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "Recent jobs" }).waitFor();
  const [cookie] = await context.cookies();
  assert.equal(cookie?.name, "ferry_session");
  assert.equal(cookie?.httpOnly, true);
  assert.equal(cookie?.sameSite, "Strict");

  const fastId = await submit(`${src.host}/fast/app:v1`, `${dst.host}/fast/app`);
  const slowId = await submit(`${src.host}/slow/app:v1`, `${hold.host}/slow/app`);
  const failId = await submit(`${srcFaults.host}/planfail/app:v1`, `${dst.host}/planfail/app`);

  // The list shows every job (polled, no reload).
  for (const id of [fastId, slowId, failId]) await page.locator(`#jobs tbody tr[data-id="${id}"]`).waitFor({ timeout: 30_000 });
  await page.locator(`#jobs tbody tr[data-id="${fastId}"] td.status`).filter({ hasText: "succeeded" }).waitFor({ timeout: 60_000 });

  // A running job: its two platforms are seen pending, then both done, on the same open page.
  await openJob(page, slowId);
  const pending = await eventually(
    async () => {
      const states = await taskStates(page);
      return states.length === 2 && states.some((s) => s.includes("pending")) ? states : undefined;
    },
    30_000,
    "the slow job's tasks listed, one pending",
  );
  assert.equal(pending.length, 2);
  await eventually(async () => ((await taskStates(page)).every((s) => s.includes("done")) ? true : undefined), 60_000, "both platforms done");
  await page.locator("#d-facts dd").filter({ hasText: "succeeded" }).waitFor({ timeout: 30_000 });

  // Two jobs whose source never answers (their plans hang), listed as they wait.
  const hole = `127.0.0.1:${(blackHole.address() as { port: number }).port}`;
  const stuckId = await submit(`${hole}/stuck/app:v1`, `${dst.host}/stuck/app`);
  const cancelId = await submit(`${hole}/stuck/app:v1`, `${dst.host}/cancel/app`);
  await page.goto(`${url}/#`);
  for (const id of [stuckId, cancelId]) await page.locator(`#jobs tbody tr[data-id="${id}"]`).waitFor({ timeout: 30_000 });

  // A job that cannot move (its plan waits on a source that never answers): failed from the page
  // by keyboard, the reason field, then the button.
  await openJob(page, cancelId);
  await page.locator("#detail-h").focus();
  assert.ok(await tabTo(page, "a-reason"), "Tab reaches the reason");
  await page.keyboard.press("Control+A");
  await page.keyboard.type("the source never answers");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(ACTIVE_ID), "a-fail");
  await page.keyboard.press("Enter");
  await page.locator("#d-error").filter({ hasText: "CANCELLED" }).waitFor({ timeout: 30_000 });
  const cancelled = await api(url, "GET", `/replications/${cancelId}`, undefined, TOKEN);
  assert.deepEqual([cancelled.body.status, (cancelled.body.error as { message: string }).message], ["failed", "the source never answers"]);

  // A stuck job: its plan hangs on a source that never answered. Once the source answers, the
  // job still does not move (its message stays invisible for 30 s), until Re-drive, by keyboard.
  holding = false;
  await openJob(page, stuckId);
  await page.waitForTimeout(3000);
  const still = await api(url, "GET", `/replications/${stuckId}`, undefined, TOKEN);
  assert.ok(["queued", "planning"].includes(String(still.body.status)), JSON.stringify(still.body));
  await page.locator("#detail-h").focus();
  assert.ok(await tabTo(page, "a-redrive"), "Tab reaches Re-drive");
  await page.keyboard.press("Enter");
  await page.locator("#a-msg").filter({ hasText: "Re-drove the job." }).waitFor();
  const redriven = await waitForJob(url, stuckId, (j) => j.status === "succeeded", 60_000);
  assert.equal((redriven.result as { digest: string }).digest, fast.digest);
  await page.locator("#d-facts dd").filter({ hasText: "succeeded" }).waitFor({ timeout: 30_000 });

  // A failed job: its code and side in the list and on the job; its message waits in the plan DLQ.
  const failedRow = page.locator(`#jobs tbody tr[data-id="${failId}"]`);
  await failedRow.locator("td.error").filter({ hasText: "REGISTRY (source)" }).waitFor({ timeout: 150_000 });
  assert.match((await failedRow.locator("td.status").textContent()) ?? "", /failed/);
  await page
    .locator("#dlq li")
    .filter({ hasText: `job ${failId.slice(0, 8)}` })
    .waitFor({ timeout: 30_000 });
  await openJob(page, failId);
  const errorText = (await page.locator("#d-error").textContent()) ?? "";
  assert.match(errorText, /REGISTRY \(source\) 503/);
  assert.match(errorText, /retryable/);
  // Peeking leaves the message where it is: still listed after more polls.
  await page.waitForTimeout(4500);
  assert.match((await page.locator("#dlq").textContent()) ?? "", new RegExp(`plan: \\d+ messages?[\\s\\S]*job ${failId.slice(0, 8)}`));
  if (process.env.FERRY_SCREENSHOT === "1") await page.screenshot({ path: SCREENSHOT, fullPage: true });

  // Retry from the page, by keyboard: the error is retryable, so the same job re-opens.
  srcFaults.setRates({});
  assert.match((await page.locator("#a-retry-help").textContent()) ?? "", /re-opens this same job/);
  assert.equal(await page.locator("#a-fail").isVisible(), false, "a failed job cannot be failed");
  await page.locator("#detail-h").focus();
  assert.ok(await tabTo(page, "a-retry"), "Tab reaches Retry");
  await page.keyboard.press("Enter");
  await page.locator("#a-msg").filter({ hasText: "Re-opened the job." }).waitFor();
  const done = await waitForJob(url, failId, (j) => j.status === "succeeded", 60_000);
  assert.equal((done.result as { digest: string }).digest, flaky.digest);
  await page.locator("#d-facts dd").filter({ hasText: "succeeded" }).waitFor({ timeout: 30_000 });

  // The filters: status and source together.
  await page.goto(`${url}/#`);
  await page.getByLabel("Status").selectOption("succeeded");
  await page.getByLabel("Source").fill("/slow/");
  await page.getByRole("button", { name: "Filter" }).click();
  await eventually(
    async () => {
      const ids = await page.locator("#jobs tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-id")));
      return ids.length === 1 && ids[0] === slowId ? true : undefined;
    },
    15_000,
    "only the slow job listed",
  );

  // Log out: the cookie goes, and the page asks for the token again.
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByLabel("API token").waitFor();
  assert.deepEqual(await context.cookies(), []);
  assert.deepEqual(external, [], "nothing fetched from outside");
  assert.deepEqual(
    cspErrors.filter((e) => /Content Security Policy/i.test(e)),
    [],
  );
  await context.close();
});
