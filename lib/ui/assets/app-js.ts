/**
 * The status page's script (plain JavaScript, no build step, nothing fetched from elsewhere).
 * Everything from the server goes into the DOM as text (textContent, createElement), never as
 * HTML. It polls every 2 s: a streamed response would not stream through the local front or API
 * Gateway → Lambda, which buffer whole responses. Writes carry `X-Ferry-CSRF: 1`.
 */
export const APP_JS = String.raw`"use strict";
(() => {
  const POLL_MS = 2000;
  const $ = (id) => document.getElementById(id);
  const RUNNING = ["queued", "planning", "copying", "merging", "pending"];
  const SYMBOL = { succeeded: "\u2713", done: "\u2713", failed: "\u2717", skipped: "\u2013" };
  let current = null;
  let filters = {};
  let timer = null;
  const signatures = {};

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
    for (const c of children) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : String(c));
    return e;
  }

  function badge(status) {
    const kind = status === "succeeded" || status === "done" ? "ok" : status === "failed" ? "failed" : RUNNING.includes(status) ? "running" : "other";
    const sym = SYMBOL[status] || "\u2026";
    return el("span", { class: "badge " + kind }, el("span", { "aria-hidden": "true" }, sym + " "), status);
  }

  function errorText(e) {
    if (!e) return "";
    return e.code + (e.side ? " (" + e.side + ")" : "") + (e.status ? " " + e.status : "");
  }

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return el("time", { datetime: iso }, d.toLocaleString());
  }

  async function api(method, path, body) {
    const headers = { accept: "application/json" };
    const init = { method, headers, credentials: "same-origin" };
    if (method !== "GET") {
      headers["x-ferry-csrf"] = "1";
      if (body) {
        headers["content-type"] = "application/json";
        init.body = JSON.stringify(body);
      }
    }
    const res = await fetch(path, init);
    if (res.status === 401) {
      location.reload(); // the login expired: the server shows the login form
      return { status: 401, data: {} };
    }
    let data = {};
    try {
      data = await res.json();
    } catch (e) {}
    return { status: res.status, data };
  }

  // Re-renders a container only when its data changed, and gives focus back to the element that
  // had it (same data-key), so polling never moves a keyboard user.
  function render(name, container, data, build) {
    const sig = JSON.stringify(data);
    if (signatures[name] === sig) return;
    signatures[name] = sig;
    const active = document.activeElement;
    const key = active && container.contains(active) ? active.getAttribute("data-key") : null;
    container.replaceChildren(...build(data));
    if (key) {
      const again = container.querySelector('[data-key="' + CSS.escape(key) + '"]');
      if (again) again.focus();
    }
  }

  function jobRow(j) {
    const progress = j.progress
      ? el("span", {}, el("progress", { max: j.progress.total, value: j.progress.done, "aria-hidden": "true" }), " " + j.progress.done + "/" + j.progress.total + " done" + (j.progress.failed ? ", " + j.progress.failed + " failed" : ""))
      : "";
    const tr = el("tr", { "data-id": j.id, class: current === j.id ? "selected" : null },
      el("td", {}, el("a", { href: "#job=" + encodeURIComponent(j.id), "data-key": "job-" + j.id, "aria-label": "Job " + j.id }, el("code", {}, j.id.slice(0, 8)))),
      el("td", { class: "status" }, badge(j.status)),
      el("td", { class: "mono" }, j.source),
      el("td", { class: "dests mono" }, ...j.destinations.map((d) => el("div", {}, d))),
      el("td", {}, (j.action === "delete" ? "delete, " : "") + (j.rule ? "rule " + j.rule : j.trigger)),
      el("td", { class: "progress" }, progress),
      el("td", { class: "error" }, j.error ? el("span", { class: "code" }, errorText(j.error)) : ""),
      el("td", {}, when(j.createdAt)),
    );
    return tr;
  }

  async function loadJobs() {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
    const { status, data } = await api("GET", "/ui/jobs?" + q.toString());
    if (status !== 200) {
      $("jobs-msg").textContent = "Could not list jobs: " + (data.error || status);
      return;
    }
    const jobs = data.jobs || [];
    const msg = jobs.length === 0 ? "No jobs match." : jobs.length + (jobs.length === 1 ? " job" : " jobs") + " shown.";
    if ($("jobs-msg").textContent !== msg) $("jobs-msg").textContent = msg;
    render("jobs", document.querySelector("#jobs tbody"), { jobs, current }, (d) => d.jobs.map(jobRow));
  }

  function fact(dl, name, value) {
    if (value === undefined || value === null || value === "") return;
    dl.append(el("dt", {}, name), el("dd", {}, value));
  }

  function showActions(job) {
    const a = job.actions || {};
    $("a-redrive-box").hidden = !a.redrive;
    $("a-redrive-help").textContent = "Sends this job's pending work again: for a job that stopped moving.";
    $("a-fail-box").hidden = !a.fail;
    $("a-retry-box").hidden = !a.retry;
    $("a-retry-help").textContent = a.retry === "reopen" ? "Retry re-opens this same job (its error is retryable)." : "Retry submits the same request again as a new job (this error is permanent).";
    $("a-none").hidden = Boolean(a.redrive || a.fail || a.retry);
  }

  function taskRow(t, i) {
    return el("tr", {},
      el("td", {}, t.platform || "(image)"),
      el("td", { class: "mono" }, t.destination),
      el("td", { class: "mono" }, el("span", { title: t.digest }, (t.digest || "").slice(0, 19))),
      el("td", { class: "state", "data-key": "task-" + i }, badge(t.state)),
      el("td", {}, t.error ? errorText(t.error) + ": " + t.error.message : ""),
    );
  }

  async function loadJob() {
    if (!current) return;
    const id = current;
    const { status, data } = await api("GET", "/ui/jobs/" + encodeURIComponent(id));
    if (id !== current) return;
    if (status !== 200) {
      $("a-msg").textContent = "Could not read job " + id + ": " + (data.error || status);
      return;
    }
    $("d-id").textContent = data.id;
    render("facts", $("d-facts"), data, (j) => {
      const dl = document.createDocumentFragment();
      fact(dl, "Status", badge(j.status));
      fact(dl, "Source", j.source);
      fact(dl, "Destinations", j.destinations.join(", "));
      fact(dl, "Trigger", j.trigger + (j.rule ? " (rule " + j.rule + ")" : ""));
      if (j.action === "delete") fact(dl, "Action", "delete the tag downstream" + (j.notBefore ? ", not before " + when(j.notBefore) : ""));
      if (j.result && j.result.deletions) fact(dl, "Deletions", j.result.deletions.map((d) => d.destination + ": " + d.outcome + (d.reason ? " (" + d.reason + ")" : "")).join("; "));
      if (j.progress) fact(dl, "Progress", j.progress.done + " of " + j.progress.total + " tasks done" + (j.progress.failed ? ", " + j.progress.failed + " failed" : ""));
      if (j.result) fact(dl, "Digest", j.result.digest);
      fact(dl, "Created", when(j.createdAt));
      fact(dl, "Updated", when(j.updatedAt));
      if (j.redrives) fact(dl, "Re-drives", String(j.redrives));
      return [dl];
    });
    const err = $("d-error");
    err.hidden = !data.error;
    if (data.error) {
      const text = "Error " + errorText(data.error) + ": " + data.error.message + (data.error.retryable ? " (retryable)" : " (permanent)");
      if (err.textContent !== text) err.textContent = text;
    }
    showActions(data);
    render("tasks", document.querySelector("#tasks tbody"), data.tasks || [], (tasks) => tasks.map(taskRow));
  }

  function dlqQueue(q) {
    const title = q.queue + ": " + q.depth + (q.depth === 1 ? " message" : " messages");
    const items = q.messages.map((m) =>
      el("li", {},
        m.kind ? m.kind + " message " : "message ",
        m.jobId ? el("a", { href: "#job=" + encodeURIComponent(m.jobId), "data-key": "dlq-" + m.id }, "job " + m.jobId.slice(0, 8)) : "",
        m.sentAt ? ", sent " + new Date(m.sentAt).toLocaleString() : "",
        el("details", {}, el("summary", {}, "Body"), el("pre", {}, m.body)),
      ),
    );
    return el("div", { class: "dlq-queue" }, el("h3", {}, title), items.length ? el("ul", {}, ...items) : "");
  }

  async function loadDeadLetters() {
    const { status, data } = await api("GET", "/dead-letters");
    const box = $("dlq");
    if (status !== 200) return;
    render("dlq", box, data, (d) => (d.unavailable ? [el("p", { class: "muted" }, d.unavailable)] : d.queues.length ? d.queues.map(dlqQueue) : [el("p", {}, "No dead-letter queues.")]));
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      await Promise.all([loadJobs(), loadJob(), loadDeadLetters()]);
      $("refreshed").textContent = "Updated " + new Date().toLocaleTimeString();
    } catch (e) {
      $("refreshed").textContent = "Not updated: " + e.message;
    }
    timer = setTimeout(refresh, POLL_MS);
  }

  function fromHash(focus) {
    const m = /^#job=(.+)$/.exec(location.hash);
    current = m ? decodeURIComponent(m[1]) : null;
    $("detail").hidden = !current;
    $("a-msg").textContent = "";
    delete signatures.facts;
    delete signatures.tasks;
    delete signatures.jobs;
    if (!current) $("d-id").textContent = "";
    refresh().then(() => {
      if (focus && current) $("detail-h").focus();
    });
  }

  async function act(action, body) {
    const id = current;
    if (!id) return;
    const buttons = document.querySelectorAll(".actions button");
    for (const b of buttons) b.disabled = true;
    const { status, data } = await api("POST", "/ui/jobs/" + encodeURIComponent(id) + "/" + action, body);
    for (const b of buttons) b.disabled = false;
    if (status >= 400) {
      $("a-msg").textContent = "Refused (" + (data.code || status) + "): " + (data.error || "");
    } else if (action === "retry" && data.mode === "resubmit") {
      location.hash = "#job=" + encodeURIComponent(data.id);
      setTimeout(() => ($("a-msg").textContent = "Submitted again as a new job " + data.id + "."), 0);
      return;
    } else {
      $("a-msg").textContent = action === "fail" ? "Failed the job." : action === "retry" ? "Re-opened the job." : "Re-drove the job.";
    }
    await refresh();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("filters").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      filters = { status: f.get("status"), source: f.get("source"), destination: f.get("destination"), rule: f.get("rule") };
      refresh();
    });
    $("filters").addEventListener("reset", () => {
      filters = {};
      setTimeout(refresh, 0);
    });
    $("a-redrive").addEventListener("click", () => act("redrive"));
    $("a-fail").addEventListener("click", () => act("fail", { reason: $("a-reason").value || "failed by an operator" }));
    $("a-retry").addEventListener("click", () => act("retry"));
    window.addEventListener("hashchange", () => fromHash(true));
    fromHash(false);
  });
})();
`;
