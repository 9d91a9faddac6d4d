/**
 * WWW-Authenticate parsing (RFC 7235): several header lines, several challenges per line,
 * any-case scheme, quoted strings with `\` escapes, extra params. A real parser, not a regex.
 */

/** One challenge: lowercase scheme plus lowercase-keyed params. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/** Parses every challenge in one or more WWW-Authenticate header values. */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = Array.isArray(header) ? header : [header];
  const out: Challenge[] = [];
  for (const v of values) out.push(...parseOne(v));
  return out;
}

/** A read position in one header value, with the lexical pieces of RFC 7235. */
class Cursor {
  i = 0;
  constructor(private readonly s: string) {}

  get done(): boolean {
    return this.i >= this.s.length;
  }

  peek(ahead = 0): string | undefined {
    return this.s[this.i + ahead];
  }

  skipWs(): void {
    while (this.peek() === " " || this.peek() === "\t") this.i++;
  }

  /** Whitespace and the commas between challenges and params. */
  skipSeparators(): void {
    this.skipWs();
    while (this.peek() === ",") {
      this.i++;
      this.skipWs();
    }
  }

  token(): string {
    const start = this.i;
    while (!this.done && TOKEN_CHAR.test(this.s[this.i] as string)) this.i++;
    return this.s.slice(start, this.i);
  }

  /** A quoted string with `\` escapes; the cursor is on its opening quote. */
  quoted(): string {
    const n = this.s.length;
    this.i++;
    let v = "";
    while (this.i < n && this.s[this.i] !== '"') {
      if (this.s[this.i] === "\\" && this.i + 1 < n) this.i++;
      v += this.s[this.i];
      this.i++;
    }
    this.i++; // closing quote
    return v;
  }

  /** A param value: quoted string or token. */
  value(): string {
    return this.peek() === '"' ? this.quoted() : this.token();
  }

  /** A token68 (e.g. `Negotiate abc==`): a token followed by `=` padding only, then end or comma. */
  token68(): string | undefined {
    const rest = this.s.slice(this.i);
    const t68 = /^[A-Za-z0-9\-._~+/]+=*(?=\s*(,|$))/.exec(rest);
    if (!t68 || /^[A-Za-z0-9\-._~+/]+=[^=]/.test(rest)) return undefined;
    this.i += t68[0].length;
    return t68[0];
  }
}

function parseOne(s: string): Challenge[] {
  const out: Challenge[] = [];
  const c = new Cursor(s);
  let current: Challenge | undefined;
  for (;;) {
    c.skipSeparators();
    if (c.done) break;
    const tokStart = c.i;
    const tok = c.token();
    if (!tok) {
      c.i++; // skip junk character
      continue;
    }
    c.skipWs();
    if (c.peek() === "=" && current && c.peek(1) !== "=") {
      // auth-param of the current challenge
      c.i++;
      c.skipWs();
      current.params[tok.toLowerCase()] = c.value();
      continue;
    }
    if (c.peek() === "=" && !current) {
      // a param with no scheme before it: ignore it
      c.i = tokStart + tok.length + 1;
      c.value();
      continue;
    }
    // a new challenge: scheme, then token68 or params
    current = { scheme: tok.toLowerCase(), params: {} };
    out.push(current);
    const t68 = c.token68();
    if (t68 !== undefined) current.params[""] = t68;
  }
  return out;
}

/** Picks the challenge we can answer: Bearer first, then Basic (Negotiate and others are skipped). */
export function pickChallenge(challenges: Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === "bearer") ?? challenges.find((c) => c.scheme === "basic");
}
