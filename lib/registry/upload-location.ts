/** Upload `Location` handling: resolution against the answering URL, query appends. */

/**
 * Resolves an upload `Location` against the URL of the response that carried it: relative,
 * absolute-path and absolute forms; the query (e.g. distribution's `_state`) is kept verbatim.
 */
export function resolveLocation(location: string, against: URL): string {
  if (/^https?:\/\//i.test(location)) return location;
  if (location.startsWith("/")) return `${against.origin}${location}`;
  return new URL(location, against).toString();
}

/** Appends a query parameter without re-encoding what is already there. */
export function appendQuery(url: string, key: string, value: string): string {
  return `${url}${url.includes("?") ? "&" : "?"}${key}=${value}`;
}
