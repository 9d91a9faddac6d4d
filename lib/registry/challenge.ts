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

function parseOne(s: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = s.length;
  const skipWs = () => {
    while (i < n && (s[i] === " " || s[i] === "\t")) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && TOKEN_CHAR.test(s[i] as string)) i++;
    return s.slice(start, i);
  };
  const readQuoted = (): string => {
    // assumes s[i] === '"'
    i++;
    let v = "";
    while (i < n && s[i] !== '"') {
      if (s[i] === "\\" && i + 1 < n) i++;
      v += s[i];
      i++;
    }
    i++; // closing quote
    return v;
  };
  let current: Challenge | undefined;
  while (i < n) {
    skipWs();
    while (i < n && s[i] === ",") {
      i++;
      skipWs();
    }
    if (i >= n) break;
    const tokStart = i;
    const tok = readToken();
    if (!tok) {
      i++; // skip junk character
      continue;
    }
    skipWs();
    if (s[i] === "=" && current && s[i + 1] !== "=") {
      // auth-param of the current challenge
      i++;
      skipWs();
      const value = s[i] === '"' ? readQuoted() : readToken();
      current.params[tok.toLowerCase()] = value;
      continue;
    }
    if (s[i] === "=" && !current) {
      // a param with no scheme before it: ignore it
      i = tokStart + tok.length + 1;
      if (s[i] === '"') readQuoted();
      else readToken();
      continue;
    }
    // a new challenge: scheme, then token68 or params
    current = { scheme: tok.toLowerCase(), params: {} };
    out.push(current);
    // token68 (e.g. Negotiate abc==): a token followed by '=' padding only, then end or comma
    const save = i;
    const t68 = /^[A-Za-z0-9\-._~+/]+=*(?=\s*(,|$))/.exec(s.slice(i));
    if (t68 && !/^[A-Za-z0-9\-._~+/]+=[^=]/.test(s.slice(i))) {
      current.params[""] = t68[0];
      i += t68[0].length;
    } else {
      i = save;
    }
  }
  return out;
}

/** Picks the challenge we can answer: Bearer first, then Basic (Negotiate and others are skipped). */
export function pickChallenge(challenges: Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === "bearer") ?? challenges.find((c) => c.scheme === "basic");
}
