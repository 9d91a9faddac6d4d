/** URL redaction for logs and errors: keep only query keys that carry no secret. */

const SAFE_QUERY_KEYS = new Set(["scope", "service", "mount", "from", "digest", "n", "last", "tag"]);

/** The URL with credentials removed and every query value not on the allow-list replaced. */
export function redactUrl(url: string | URL): string {
  let u: URL;
  try {
    u = new URL(url.toString());
  } catch {
    return "<invalid url>";
  }
  u.username = "";
  u.password = "";
  const keys = [...new Set(u.searchParams.keys())];
  for (const k of keys) {
    if (!SAFE_QUERY_KEYS.has(k.toLowerCase())) u.searchParams.set(k, "REDACTED");
  }
  return u.toString();
}
