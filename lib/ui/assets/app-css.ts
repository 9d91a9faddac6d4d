/**
 * The status page's styles. Colours are chosen for a contrast of at least 4.5:1 (text on its
 * background; test/unit/ui-page.test.ts checks each pair), and a status is always a word and a
 * symbol as well as a colour.
 */

/** Foreground/background pairs the page uses, for the contrast test. */
export const COLOUR_PAIRS: ReadonlyArray<readonly [string, string, string]> = [
  ["text", "#1b1f24", "#ffffff"],
  ["muted", "#4b5563", "#ffffff"],
  ["link", "#0b57a4", "#ffffff"],
  ["button", "#ffffff", "#0b57a4"],
  ["danger button", "#ffffff", "#a3161b"],
  ["secondary button", "#0b57a4", "#eef3f9"],
  ["table head", "#1b1f24", "#eef1f4"],
  ["badge ok", "#14532d", "#dcfce7"],
  ["badge failed", "#7f1d1d", "#fee2e2"],
  ["badge running", "#1e3a8a", "#dbeafe"],
  ["badge other", "#374151", "#f3f4f6"],
  ["alert", "#7f1d1d", "#fef2f2"],
  ["message body", "#1b1f24", "#f6f8fa"],
];

export const APP_CSS = `:root { color-scheme: light; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1b1f24; background: #ffffff; }
a { color: #0b57a4; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.9em; }
:focus-visible { outline: 3px solid #1b1f24; outline-offset: 2px; box-shadow: 0 0 0 5px #ffffff; }
.skip { position: absolute; left: -10000px; top: 0; background: #ffffff; padding: 0.5em; }
.skip:focus { left: 0.5em; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.top { display: flex; flex-wrap: wrap; align-items: baseline; gap: 1em; padding: 0.6em 1.2em; border-bottom: 1px solid #d0d7de; }
.top h1 { margin: 0; font-size: 1.4em; }
.top .sub { font-weight: normal; color: #4b5563; }
.top .logout { margin-left: auto; }
main { padding: 0 1.2em 2em; max-width: 1400px; }
h2 { font-size: 1.2em; margin: 1.2em 0 0.5em; }
h3 { font-size: 1.05em; margin: 1em 0 0.4em; }
.muted, .help { color: #4b5563; }
.help { font-size: 0.92em; }
.filters { display: flex; flex-wrap: wrap; align-items: center; gap: 0.4em 0.6em; margin-bottom: 0.6em; }
.filters label { font-weight: 600; }
input, select { font: inherit; padding: 0.3em 0.4em; border: 1px solid #6b7280; border-radius: 4px; color: #1b1f24; background: #ffffff; }
button { font: inherit; padding: 0.35em 0.9em; border: 1px solid #0b57a4; border-radius: 4px; background: #0b57a4; color: #ffffff; cursor: pointer; }
button.secondary { background: #eef3f9; color: #0b57a4; }
button.danger { background: #a3161b; border-color: #a3161b; color: #ffffff; }
button:disabled { cursor: wait; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 0.35em 0.6em; border-bottom: 1px solid #d0d7de; }
thead th { background: #eef1f4; color: #1b1f24; }
td.dests div { white-space: nowrap; }
tr.selected { outline: 2px solid #0b57a4; outline-offset: -2px; }
.badge { display: inline-block; padding: 0 0.5em; border-radius: 999px; font-weight: 600; white-space: nowrap; }
.badge.ok { color: #14532d; background: #dcfce7; }
.badge.failed { color: #7f1d1d; background: #fee2e2; }
.badge.running { color: #1e3a8a; background: #dbeafe; }
.badge.other { color: #374151; background: #f3f4f6; }
progress { width: 6em; vertical-align: middle; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.2em 1em; margin: 0.5em 0; }
.facts dt { font-weight: 600; }
.facts dd { margin: 0; overflow-wrap: anywhere; }
.alert { color: #7f1d1d; background: #fef2f2; border: 1px solid #7f1d1d; border-radius: 4px; padding: 0.5em 0.8em; }
.actions { border: 1px solid #d0d7de; border-radius: 6px; padding: 0.2em 1em 0.6em; margin: 0.8em 0; }
.action { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5em; margin: 0.4em 0; }
.login { max-width: 26em; margin: 4em auto; padding: 0 1em; }
.login form { display: flex; flex-direction: column; gap: 0.5em; }
.login button { align-self: flex-start; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f8fa; padding: 0.5em; border-radius: 4px; }
.dlq-queue ul { padding-left: 1.2em; }
`;
