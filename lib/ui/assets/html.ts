/**
 * The status page's HTML: static markup (no data: the script fills it in with textContent), and
 * the login form. Every control has a label; the script and the styles are files of their own, so
 * the Content-Security-Policy allows no inline script or style.
 */

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const head = (title: string, script: boolean) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/ui/app.css">
${script ? '<script src="/ui/app.js" defer></script>\n' : ""}</head>`;

const STATUSES = ["queued", "planning", "copying", "merging", "succeeded", "failed", "skipped"];

/** The login form; `error` (plain text) is shown as an alert. */
export function loginHtml(error?: string): string {
  return `${head("ferry: log in", false)}
<body>
<main class="login">
<h1>ferry</h1>
<p>Log in with the API token to see the status page.</p>
<form method="post" action="/login">
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
</form>
${error ? `<p role="alert" class="alert" id="login-error">${escapeHtml(error)}</p>` : ""}
</main>
</body>
</html>
`;
}

/** The status page; `logout` adds the log-out button (a cookie session). */
export function statusHtml(opts: { logout: boolean }): string {
  const options = STATUSES.map((s) => `<option value="${s}">${s}</option>`).join("");
  return `${head("ferry: status", true)}
<body>
<a class="skip" href="#jobs-h">Skip to the jobs</a>
<header class="top">
<h1>ferry <span class="sub">status</span></h1>
<p id="refreshed" class="muted"></p>
${opts.logout ? '<form method="post" action="/logout" class="logout"><button type="submit" class="secondary">Log out</button></form>' : ""}
</header>
<main>
<section aria-labelledby="jobs-h">
<h2 id="jobs-h" tabindex="-1">Recent jobs</h2>
<form id="filters" class="filters" role="search" aria-label="Filter jobs">
<label for="f-status">Status</label>
<select id="f-status" name="status"><option value="">any</option>${options}</select>
<label for="f-source">Source</label>
<input id="f-source" name="source" type="search" autocomplete="off">
<label for="f-destination">Destination</label>
<input id="f-destination" name="destination" type="search" autocomplete="off">
<label for="f-rule">Rule</label>
<input id="f-rule" name="rule" type="search" autocomplete="off">
<button type="submit">Filter</button>
<button type="reset" class="secondary">Clear</button>
</form>
<p id="jobs-msg" role="status"></p>
<div class="scroll">
<table id="jobs">
<caption class="sr-only">Recent jobs, newest first; the page refreshes every 2 seconds</caption>
<thead><tr><th scope="col">Job</th><th scope="col">Status</th><th scope="col">Source</th><th scope="col">Destinations</th><th scope="col">Rule or trigger</th><th scope="col">Progress</th><th scope="col">Error</th><th scope="col">Created</th></tr></thead>
<tbody></tbody>
</table>
</div>
</section>
<section id="detail" aria-labelledby="detail-h" hidden>
<h2 id="detail-h" tabindex="-1">Job <code id="d-id"></code></h2>
<dl id="d-facts" class="facts"></dl>
<div id="d-error" class="alert" hidden></div>
<div class="actions" role="group" aria-labelledby="actions-h">
<h3 id="actions-h">Actions</h3>
<p id="a-none" class="muted">None: the job is finished.</p>
<div id="a-redrive-box" class="action" hidden>
<button type="button" id="a-redrive" aria-describedby="a-redrive-help">Re-drive</button>
<span id="a-redrive-help" class="help"></span>
</div>
<div id="a-fail-box" class="action" hidden>
<label for="a-reason">Reason</label>
<input id="a-reason" type="text" maxlength="1000" value="failed by an operator">
<button type="button" id="a-fail" class="danger">Fail the job</button>
</div>
<div id="a-retry-box" class="action" hidden>
<button type="button" id="a-retry" aria-describedby="a-retry-help">Retry</button>
<span id="a-retry-help" class="help"></span>
</div>
<p id="a-msg" role="status"></p>
</div>
<h3 id="tasks-h">Tasks</h3>
<div class="scroll">
<table id="tasks" aria-labelledby="tasks-h">
<thead><tr><th scope="col">What</th><th scope="col">Destination</th><th scope="col">Digest</th><th scope="col">State</th><th scope="col">Error</th></tr></thead>
<tbody></tbody>
</table>
</div>
<p><a href="#" id="d-close">Close the job</a></p>
</section>
<section aria-labelledby="dlq-h">
<h2 id="dlq-h">Dead-letter queues</h2>
<p class="help">Messages that failed every delivery. Shown here without being taken off their queue.</p>
<div id="dlq"></div>
</section>
</main>
</body>
</html>
`;
}
