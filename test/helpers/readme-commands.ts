/**
 * The README's command examples as a reader would type them: every line of a ```sh block, every
 * `$ ` prompt of a ```console block (with the output shown under it), command lines of plain ```
 * blocks (a usage line such as `ferry copy [options] SRC DST` is marked `synopsis`), and the
 * inline commands of the "Set up" table. Line continuations are joined, trailing `# comments`
 * dropped; `shellWords` splits a command as the shell would (quotes, `$(...)`, `VAR=value`
 * prefixes, `&&`/`||`/`;`/`|` chains), without running anything.
 */

/** One command example of the README. */
export interface ReadmeCommand {
  /** The command line as typed (continuations joined; prompt and trailing comment removed). */
  text: string;
  /** Its line in the README (1-based). */
  line: number;
  /** The fence's language (`sh`, `console`, `""` for a plain block), or `inline`. */
  lang: string;
  /** The ordinal of its fenced block (-1 inline): commands of one block form a scenario. */
  block: number;
  /** What a ```console block shows under it. */
  output: string[];
  /** A usage line (`[--flag]`, `SRC`, `FILE`…), not a command to run: only its flags can be checked. */
  synopsis: boolean;
}

/** A simple command of a chain: `VAR=value` prefixes, then the program and its words. */
export interface SimpleCommand {
  env: Record<string, string>;
  argv: string[];
}

/** Programs whose lines in a plain ``` block are commands (the other lines are diagrams or trees). */
export const PROGRAMS = ["ferry", "curl", "npm", "npx", "node", "aws", "cdk", "skopeo", "docker", "git", "crane", "oras", "kubectl"];
const SHELL_LANGS = new Set(["sh", "bash", "shell", "console", ""]);
const OPS = ["&&", "||", ";", "|"];

/** Every command of the README's fenced shell blocks, in order. */
export function extractCommands(markdown: string): ReadmeCommand[] {
  const lines = markdown.split("\n");
  const out: ReadmeCommand[] = [];
  let block = -1;
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i] ?? "");
    if (!open) continue;
    const lang = open[1] ?? "";
    let end = i + 1;
    while (end < lines.length && !(lines[end] ?? "").startsWith("```")) end++;
    block++;
    if (SHELL_LANGS.has(lang)) out.push(...blockCommands(lines.slice(i + 1, end), i + 2, lang, block));
    i = end;
  }
  return out;
}

function blockCommands(body: string[], firstLine: number, lang: string, block: number): ReadmeCommand[] {
  const out: ReadmeCommand[] = [];
  for (let j = 0; j < body.length; j++) {
    const raw = body[j] ?? "";
    const prompt = /^\s*\$ /.exec(raw);
    const start = prompt ? raw.slice(prompt[0].length) : raw.trim();
    const isCommand = prompt !== null || (lang === "sh" || lang === "bash" || lang === "shell" ? start !== "" && !start.startsWith("#") : isProgramLine(start));
    if (!isCommand) {
      if (lang === "console" && out.length > 0 && raw.trim() !== "") out[out.length - 1]?.output.push(raw);
      continue;
    }
    let text = start;
    const line = firstLine + j;
    while (/\\\s*$/.test(stripComment(text)) && j + 1 < body.length) {
      text = `${stripComment(text).replace(/\s*\\\s*$/, "")} ${(body[++j] ?? "").replace(/^\s*>\s?/, "").trim()}`;
    }
    text = stripComment(text).trim();
    out.push({ text, line, lang, block, output: [], synopsis: lang === "" && isSynopsis(text) });
  }
  return out;
}

function isProgramLine(line: string): boolean {
  const first = line.split(/\s+/)[0] ?? "";
  return PROGRAMS.includes(first);
}

/** A usage line: an optional part in brackets, or a placeholder in capitals (FILE, SRC, DST...). */
export function isSynopsis(text: string): boolean {
  return shellWords(text)
    .slice(1)
    .some((w) => w.startsWith("[") || /^[A-Z][A-Z0-9_]*(\.\.\.)?\]?$/.test(w));
}

/** The inline commands of the "Set up" section's table (its last column's code spans). */
export function setUpCommands(markdown: string): ReadmeCommand[] {
  const lines = markdown.split("\n");
  const start = lines.findIndex((l) => /^## Set up\s*$/.test(l));
  if (start < 0) return [];
  const out: ReadmeCommand[] = [];
  for (let i = start + 1; i < lines.length && !/^## /.test(lines[i] ?? ""); i++) {
    const l = lines[i] ?? "";
    if (!l.startsWith("|") || /^\|\s*-/.test(l)) continue;
    const cells = l.split("|").slice(1, -1);
    for (const m of (cells[cells.length - 1] ?? "").matchAll(/`([^`]+)`/g)) {
      out.push({ text: m[1] ?? "", line: i + 1, lang: "inline", block: -1, output: [], synopsis: false });
    }
  }
  return out;
}

/** `line` without a trailing `# comment` (a `#` that starts a word outside quotes and `$(...)`). */
export function stripComment(line: string): string {
  let quote = "";
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = "";
      else if (c === "\\" && quote === '"') i++;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "\\") i++;
    else if (c === "$" && line[i + 1] === "(") depth++;
    else if (c === ")" && depth > 0) depth--;
    else if (c === "#" && depth === 0 && (i === 0 || /\s/.test(line[i - 1] ?? ""))) return line.slice(0, i).trimEnd();
  }
  return line;
}

/**
 * The words of a command line as the shell splits them: quotes removed, `$(...)` kept verbatim,
 * chain operators (`&&`, `||`, `;`, `|`) as words of their own.
 */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  const add = (s: string) => {
    word = (word ?? "") + s;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    const op = OPS.find((o) => text.startsWith(o, i));
    if (/\s/.test(c) || op) {
      if (word !== undefined) words.push(word);
      word = undefined;
      if (op) {
        words.push(op);
        i += op.length - 1;
      }
    } else if (c === "'") {
      const close = text.indexOf("'", i + 1);
      add(text.slice(i + 1, close < 0 ? undefined : close));
      i = close < 0 ? text.length : close;
    } else if (c === '"') {
      let j = i + 1;
      let s = "";
      for (; j < text.length && text[j] !== '"'; j++) s += text[j] === "\\" && /["\\$`]/.test(text[j + 1] ?? "") ? (text[++j] as string) : text[j];
      add(s);
      i = j;
    } else if (c === "$" && text[i + 1] === "(") {
      const close = matchingParen(text, i + 1);
      add(text.slice(i, close + 1));
      i = close;
    } else if (c === "\\") add(text[++i] ?? "");
    else add(c);
  }
  if (word !== undefined) words.push(word);
  return words;
}

function matchingParen(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")" && --depth === 0) return i;
  }
  return text.length - 1;
}

/** The simple commands of a chain, each with its `VAR=value` prefixes apart. */
export function splitChain(text: string): SimpleCommand[] {
  const out: SimpleCommand[] = [];
  let cur: SimpleCommand = { env: {}, argv: [] };
  for (const w of shellWords(text)) {
    if (OPS.includes(w)) {
      if (cur.argv.length > 0) out.push(cur);
      cur = { env: {}, argv: [] };
      continue;
    }
    const assign = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(w);
    if (assign && cur.argv.length === 0) cur.env[assign[1] as string] = assign[2] as string;
    else cur.argv.push(w);
  }
  if (cur.argv.length > 0) out.push(cur);
  return out;
}

/**
 * The options a command's `--help` lists: long and short names, each mapped to whether it takes
 * a value (`--jobs N`: one space, then the value; `--merge   text`: none).
 */
export function helpFlags(help: string): Map<string, boolean> {
  const flags = new Map<string, boolean>();
  for (const m of help.matchAll(/^\s+(?:-(\w), )?--([a-z0-9][a-z0-9-]*)( \S+)?/gm)) {
    const takesValue = m[3] !== undefined;
    flags.set(`--${m[2]}`, takesValue);
    if (m[1]) flags.set(`-${m[1]}`, takesValue);
  }
  return flags;
}

/** The positional words of `args` (after the subcommand), skipping options and their values. */
export function positionals(args: string[], flags: Map<string, boolean>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a.startsWith("-") && a.length > 1) {
      if (!a.includes("=") && flags.get(a) === true) i++;
    } else out.push(a);
  }
  return out;
}

/** The value of option `name` in `args` (`--name V` or `--name=V`). */
export function optionValue(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === name) return args[i + 1];
    if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
  }
  return undefined;
}

/** Registry hosts written before a `/` (`ghcr.io/…`, `127.0.0.1:5000/…`, `localhost/…`), not inside `oci:PATH`. */
export const HOST_BEFORE_PATH = /(?<=^|[\s'"=@])((?:[a-zA-Z0-9-]+\.)+[a-zA-Z0-9-]+(?::\d+)?|localhost(?::\d+)?)(?=\/)/g;

/** The distinct registry hosts named in `text`. */
export function hostsIn(text: string): string[] {
  return [...new Set([...text.matchAll(HOST_BEFORE_PATH)].map((m) => m[1] as string))];
}

/**
 * What a line of shown output stands for: `…`, `<placeholder>`s, digests, UUIDs (job ids) and
 * numbers (ports, sizes, times) match anything; the rest must be printed as shown.
 */
export function shownLinePattern(shown: string): RegExp {
  const variable = /…|<[^>]+>|sha256:[0-9a-f]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d+(?:\.\d+)?/;
  const parts = shown.trim().split(variable);
  return new RegExp(parts.map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*?"));
}
