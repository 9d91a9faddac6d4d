/** Address classification used for plain-HTTP defaults and SSRF checks on redirects and realms. */
import { isIP } from "node:net";

function hostOnly(hostport: string): string {
  if (hostport.startsWith("[")) return hostport.slice(1, hostport.indexOf("]"));
  const i = hostport.lastIndexOf(":");
  return i > 0 && hostport.indexOf(":") === i ? hostport.slice(0, i) : hostport;
}

/** `localhost`, 127.0.0.0/8 and ::1 (docker treats these as insecure-capable by default). */
export function isLoopbackHost(hostport: string): boolean {
  const h = hostOnly(hostport).toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || h === "0:0:0:0:0:0:0:1";
  return false;
}

/** Link-local addresses (169.254/16, fe80::/10): cloud metadata lives here, never a target. */
export function isLinkLocalHost(hostport: string): boolean {
  const h = hostOnly(hostport).toLowerCase();
  if (isIP(h) === 4) return h.startsWith("169.254.");
  if (isIP(h) === 6) return /^fe[89ab]/.test(h);
  return false;
}

/** Private, loopback, unspecified or link-local IP literals. Names are not resolved. */
export function isPrivateHost(hostport: string): boolean {
  const h = hostOnly(hostport).toLowerCase();
  if (isLoopbackHost(hostport) || isLinkLocalHost(hostport)) return true;
  if (isIP(h) === 4) {
    const [a, b] = h.split(".").map(Number) as [number, number];
    return a === 10 || a === 0 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
  }
  if (isIP(h) === 6) return h === "::" || /^f[cd]/.test(h);
  return false;
}

/**
 * May a request that started at `fromHost` be sent on to `toHost` (redirects, token realms,
 * upload Locations)? Link-local never; private/loopback literals only when the registry itself
 * is private or loopback (a test or on-premises setup), as go-containerregistry's SSRF check.
 */
export function mayFollow(fromHost: string, toHost: string): boolean {
  if (isLinkLocalHost(toHost) && !isLinkLocalHost(fromHost)) return false;
  if (isPrivateHost(toHost) && !isPrivateHost(fromHost)) return false;
  return true;
}
