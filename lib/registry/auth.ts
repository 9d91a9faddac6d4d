/**
 * Token and basic auth for one registry host: per-scope token cache, `token`/`access_token`,
 * default and clamped `expires_in`, refresh ahead of body requests, push scope first.
 * Docker token spec: distribution docs/spec/auth/{token,oauth,scope}.md.
 */
import { FerryError } from "../errors.ts";
import type { Challenge } from "./challenge.ts";
import type { Credential, CredentialProvider } from "./credentials.ts";
import { isLoopbackHost, mayFollow } from "./address.ts";
import { redactUrl } from "./redact.ts";

/** Tokens without `expires_in` live 60 s; shorter lifetimes are raised to 60 s (token.md). */
export const DEFAULT_TOKEN_LIFETIME_S = 60;
/** Refresh this long before expiry for requests without a body. */
export const TOKEN_REFRESH_MARGIN_MS = 5_000;
/** Requests that stream a body cannot be replayed after a 401: they need this much validity left. */
export const TOKEN_BODY_MARGIN_MS = 30_000;
const MAX_TOKEN_BODY = 64 * 1024;

/** A minimal HTTP exchange the authenticator needs (provided by the client's transport). */
export type TokenFetch = (
  url: URL,
  init: { method: "GET" | "POST"; headers: Record<string, string>; body?: string },
) => Promise<{ status: number; text: string }>;

interface CachedToken {
  token: string;
  expiresAt: number;
  scopes: ParsedScope[];
}

interface ParsedScope {
  type: string;
  name: string;
  actions: Set<string>;
}

/** Parses `type:name:actions`; the name may contain `host:port` colons (scope.md). */
export function parseScope(s: string): ParsedScope {
  const first = s.indexOf(":");
  const last = s.lastIndexOf(":");
  if (first < 0 || last === first) return { type: s, name: "", actions: new Set() };
  return {
    type: s.slice(0, first),
    name: s.slice(first + 1, last),
    actions: new Set(
      s
        .slice(last + 1)
        .split(",")
        .filter(Boolean),
    ),
  };
}

/** `repository:<name>:pull` or `repository:<name>:pull,push`. */
export function repositoryScope(name: string, push: boolean): string {
  return `repository:${name}:${push ? "pull,push" : "pull"}`;
}

/** Orders scopes push-first (some registries read only the first scope) and removes duplicates. */
export function orderScopes(scopes: string[]): string[] {
  const unique = [...new Set(scopes)];
  return [...unique.filter((s) => parseScope(s).actions.has("push")), ...unique.filter((s) => !parseScope(s).actions.has("push"))];
}

/** Scopes named in a challenge's `scope` param (space-separated) that `have` does not cover. */
export function missingScopes(have: string[], challengeScope: string | undefined): string[] {
  if (!challengeScope) return [];
  const granted = have.map(parseScope);
  return challengeScope.split(" ").filter((s) => s && !covers(granted, parseScope(s)));
}

function covers(granted: ParsedScope[], wanted: ParsedScope): boolean {
  return granted.some((g) => g.type === wanted.type && g.name === wanted.name && [...wanted.actions].every((a) => g.actions.has(a)));
}

/** Answers challenges for one host; `authorization()` gives the header value for a request. */
export class Authenticator {
  private readonly host: string;
  private readonly credentials: CredentialProvider | undefined;
  private readonly fetchToken: TokenFetch;
  private readonly now: () => number;
  private challenge: Challenge | undefined;
  private credential: Promise<Credential | undefined> | undefined;
  private readonly tokens: CachedToken[] = [];
  private readonly inflight = new Map<string, Promise<CachedToken>>();

  private readonly baseUrl: () => string;
  private readonly realmHosts: ReadonlySet<string>;

  constructor(opts: {
    host: string;
    credentials?: CredentialProvider;
    fetchToken: TokenFetch;
    /**
     * Host names besides the registry's own that may receive its credentials as a token realm
     * (the host profile's, e.g. Docker Hub's auth.docker.io, and the config's `tokenRealms`).
     */
    realmHosts?: readonly string[];
    /** The registry's base URL as pinged (`http://` or `https://`), for relative realms. */
    baseUrl?: () => string | undefined;
    now?: () => number;
  }) {
    this.host = opts.host;
    this.credentials = opts.credentials;
    this.fetchToken = opts.fetchToken;
    this.baseUrl = () => opts.baseUrl?.() ?? `https://${opts.host}`;
    this.realmHosts = new Set((opts.realmHosts ?? []).map((h) => h.toLowerCase()));
    this.now = opts.now ?? (() => Date.now());
  }

  /** Sets the challenge learned from the ping (or from a later 401). */
  setChallenge(c: Challenge | undefined): void {
    this.challenge = c;
  }

  get scheme(): string | undefined {
    return this.challenge?.scheme;
  }

  private getCredential(): Promise<Credential | undefined> {
    this.credential ??= this.credentials ? this.credentials(this.host) : Promise.resolve(undefined);
    return this.credential;
  }

  /**
   * The registry refused the credential (a rotated secret): the next request asks the provider
   * to read its source again, once, before the failure counts.
   */
  refreshCredential(): void {
    this.credential = this.credentials ? this.credentials(this.host, { refresh: true }) : undefined;
  }

  /**
   * The Authorization header for a request needing `scopes`, or undefined when anonymous.
   * `forBody` asks for a token that stays valid long enough to send a body.
   */
  async authorization(scopes: string[], opts: { forBody?: boolean; signal?: AbortSignal } = {}): Promise<string | undefined> {
    const c = this.challenge;
    if (!c) return undefined;
    if (c.scheme === "basic") {
      const cred = await this.getCredential();
      if (!cred) return undefined;
      if (cred.kind !== "basic") {
        throw new FerryError("AUTH", `${this.host} asks for Basic auth but only an identity token is configured`);
      }
      return `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString("base64")}`;
    }
    if (c.scheme !== "bearer") return undefined;
    const margin = opts.forBody ? TOKEN_BODY_MARGIN_MS : TOKEN_REFRESH_MARGIN_MS;
    const wanted = scopes.map(parseScope);
    const now = this.now();
    const hit = this.tokens.find((t) => t.expiresAt - margin > now && wanted.every((w) => covers(t.scopes, w)));
    if (hit) return `Bearer ${hit.token}`;
    const ordered = orderScopes(scopes);
    const key = ordered.join(" ");
    let p = this.inflight.get(key);
    if (!p) {
      p = this.requestToken(c, ordered).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    const t = await p;
    return `Bearer ${t.token}`;
  }

  /** Forgets cached tokens covering these scopes (after a 401 that says they are not enough). */
  invalidate(scopes: string[]): void {
    const wanted = scopes.map(parseScope);
    for (let i = this.tokens.length - 1; i >= 0; i--) {
      const t = this.tokens[i] as CachedToken;
      if (wanted.some((w) => covers(t.scopes, w))) this.tokens.splice(i, 1);
    }
  }

  private async requestToken(c: Challenge, scopes: string[], refreshed = false): Promise<CachedToken> {
    const realm = this.realmOf(c);
    // Credentials go to the registry's own host name, or to a realm its profile or the config
    // names; any other realm is asked for an anonymous token (a public image still works).
    const cred = this.mayReceiveCredentials(realm) ? await this.getCredential() : undefined;
    const issued = this.now();
    const res = await this.askRealm(realm, c.params.service, scopes, cred);
    if (cred?.kind === "basic" && (res.status === 401 || res.status === 403) && !refreshed) {
      // Refused credentials may have been rotated: read them again, once, and ask again.
      this.refreshCredential();
      return this.requestToken(c, scopes, true);
    }
    if (res.status !== 200) {
      throw new FerryError("AUTH", `${this.host}: token request to ${realm.host} failed with HTTP ${res.status}`, {
        retryable: res.status >= 500 || res.status === 429,
      });
    }
    const entry = this.parseToken(res.text, scopes, issued);
    this.tokens.push(entry);
    return entry;
  }

  /** The challenge's realm, resolved and checked: https (or loopback http), never a private address from a public registry. */
  private realmOf(c: Challenge): URL {
    const realmText = c.params.realm;
    if (!realmText) throw new FerryError("AUTH", `${this.host}: Bearer challenge without a realm`);
    let realm: URL;
    try {
      // A relative realm resolves against the registry (regclient does the same).
      realm = new URL(realmText, `${this.baseUrl()}/v2/`);
    } catch {
      throw new FerryError("AUTH", `${this.host}: invalid token realm`);
    }
    if (realm.protocol !== "https:" && !(realm.protocol === "http:" && (isLoopbackHost(realm.host) || isLoopbackHost(this.host)))) {
      throw new FerryError("AUTH", `${this.host}: refusing token realm ${redactUrl(realm)}: not https`);
    }
    if (!mayFollow(this.host, realm.host)) {
      throw new FerryError("AUTH", `${this.host}: refusing token realm on a private address ${realm.host}`);
    }
    return realm;
  }

  /** Asks `realm` for a token: OAuth2 with an identity token, else GET with Basic credentials or anonymously. */
  private async askRealm(realm: URL, service: string | undefined, scopes: string[], cred: Credential | undefined): Promise<{ status: number; text: string }> {
    if (cred?.kind === "identity-token") {
      // OAuth2 refresh-token grant (oauth.md); a realm without OAuth2 (404) gets the GET form.
      const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: cred.identityToken, client_id: "ferry" });
      if (service) form.set("service", service);
      if (scopes.length) form.set("scope", scopes.join(" "));
      const res = await this.fetchToken(realm, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: form.toString(),
      });
      if (res.status !== 404 && res.status !== 405) return res;
      return this.fetchToken(this.getUrl(realm, service, scopes), {
        method: "GET",
        headers: { authorization: basic(cred.username ?? "<token>", cred.identityToken) },
      });
    }
    const headers: Record<string, string> = {};
    if (cred) headers.authorization = basic(cred.username, cred.password);
    return this.fetchToken(this.getUrl(realm, service, scopes), { method: "GET", headers });
  }

  /** A token response (token.md): `token` or `access_token`, `expires_in` defaulted and clamped, a sane `issued_at`. */
  private parseToken(text: string, scopes: string[], issued: number): CachedToken {
    let body: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      body = JSON.parse(text.slice(0, MAX_TOKEN_BODY));
    } catch {
      throw new FerryError("AUTH", `${this.host}: token response is not JSON`);
    }
    const token = body.access_token || body.token;
    if (!token) throw new FerryError("AUTH", `${this.host}: token response has neither token nor access_token`);
    const lifetime = Math.max(DEFAULT_TOKEN_LIFETIME_S, Number(body.expires_in) || 0) * 1000;
    // issued_at is trusted only when it is sane: in the future or already expired means clock skew.
    let start = issued;
    const iat = body.issued_at ? Date.parse(body.issued_at) : Number.NaN;
    if (!Number.isNaN(iat) && iat <= issued && iat + lifetime > issued) start = iat;
    return { token, expiresAt: start + lifetime, scopes: scopes.map(parseScope) };
  }

  /** True when `realm` is on the registry's own host name (any port) or a host named for it. */
  mayReceiveCredentials(realm: URL): boolean {
    const own = new URL(`https://${this.host}`).hostname.toLowerCase();
    const there = realm.hostname.toLowerCase();
    return there === own || this.realmHosts.has(there);
  }

  private getUrl(realm: URL, service: string | undefined, scopes: string[]): URL {
    const u = new URL(realm);
    if (service) u.searchParams.set("service", service);
    for (const s of scopes) u.searchParams.append("scope", s);
    return u;
  }
}

function basic(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
}
