/**
 * A registry client for one host, on undici: scheme detection, auth, retries,
 * manifests, tags and blobs. Operations are named resource-first (`manifestGet`, `blobHead`).
 * Every method takes `{signal, deadline}`: retries never run past the deadline, and requests still
 * in flight at the deadline (a body mid-stream, an upload) are aborted with DEADLINE. Every read
 * has a stall guard (stall.ts).
 */
import { connect as tlsConnect } from "node:tls";
import type { Agent, Dispatcher } from "undici";
import { FerryError, RegistryError, type Side } from "../errors.ts";
import { digestOf, parseDigest } from "../oci/digest.ts";
import { DEFAULT_MAX_MANIFEST_BYTES, type Descriptor, parseManifest, type RawManifest } from "../oci/manifest.ts";
import { bareMediaType, DOCKER_SCHEMA1_SIGNED, MANIFEST_ACCEPT } from "../oci/media-types.ts";
import { mayFollow } from "./address.ts";
import { Authenticator, missingScopes, repositoryScope } from "./auth.ts";
import { parseChallenges, pickChallenge } from "./challenge.ts";
import type { CredentialProvider } from "./credentials.ts";
import type { RateBudget } from "./rate.ts";
import { redactUrl } from "./redact.ts";
import { resolveLocation } from "./upload-location.ts";
import * as download from "./blob-download.ts";
import { type HostProfile, type ProfileName, profileFor } from "./host-profile.ts";
import * as upload from "./blob-upload.ts";
import type { BodyOpener, UploadOutcome } from "./blob-upload.ts";
import type { Readable } from "node:stream";
import { abortError, DEFAULT_RETRY, isNetworkError, nextDelay, type RetryOptions, sleep } from "./retry.ts";
import { callScope, untilAborted } from "./deadline.ts";
import { resolveTransfer, stallGuard, type TransferSettings } from "./stall.ts";
import { createAgent, drain, header, isPlainHttpAnswer, readCapped, responseError, schemeCandidates, type TransportOptions, tlsError } from "./transport.ts";

/** Per-call controls. */
export interface CallOptions {
  signal?: AbortSignal;
  /**
   * Epoch milliseconds (a Lambda's remaining time, less what recording the outcome needs): no
   * retry starts after it, and requests still in flight then are aborted with DEADLINE.
   */
  deadline?: number;
}

/** How blobs are uploaded; see blob-upload.ts. */
export type UploadMode = "monolithic" | "patch" | "chunked";

/** Settings of a {@link RegistryClient}; every field has a documented default. */
export interface RegistryClientOptions extends TransportOptions {
  /** `host[:port]` of the registry. */
  host: string;
  /** Which side of a copy this client serves; set on every error it raises. */
  side?: Side;
  credentials?: CredentialProvider;
  retry?: Partial<RetryOptions>;
  /** Upload strategy. Default `monolithic`; ECR hosts never chunk. */
  uploadMode?: UploadMode;
  /** The host's quirks by name (default: chosen by the host name, see host-profile.ts). */
  profile?: ProfileName;
  /** Token realm host names, besides the registry's own and its profile's, that may receive its credentials. */
  tokenRealms?: string[];
  /** Chunk size for `chunked` uploads. Default 4 MiB (GHCR's cap); raised to OCI-Chunk-Min-Length. */
  chunkSize?: number;
  /** Try `POST ?digest=` with the body for small blobs (capability-detected: 202 falls back). */
  singlePostUpload?: boolean;
  /** Cap on manifest reads. Default 8 MiB. */
  maxManifestBytes?: number;
  userAgent?: string;
  /** Share one Agent between clients; the client then does not close it. */
  agent?: Agent;
  /** A request-rate budget shared by the clients of this host (e.g. Docker Hub's limits). */
  rateBudget?: RateBudget;
}

/** A request through the client's pipeline. */
export interface RegistryRequest extends CallOptions {
  method: "GET" | "HEAD" | "PUT" | "POST" | "PATCH" | "DELETE";
  /** Path under the registry (`/v2/...`) or an absolute URL (an upload Location). */
  path: string;
  /** Repository whose scope the request needs. */
  repo?: string;
  /** Needs push rights on `repo`. */
  push?: boolean;
  extraScopes?: string[];
  headers?: Record<string, string>;
  /** A replayable body. */
  body?: Buffer | string;
  /** A one-shot streamed body: the request is then never retried here. */
  stream?: AsyncIterable<Uint8Array> | NodeJS.ReadableStream;
  /** Statuses that count as success. */
  expect: number[];
  /** Follow redirects (blob GETs), dropping Authorization on other hosts. */
  followRedirects?: boolean;
  /** Override: retry even a POST, or never retry. */
  retry?: boolean;
  headersTimeout?: number;
}

/** A response; `body` must be consumed or drained by the caller. */
export interface RegistryResponse {
  status: number;
  /** The request carried an Authorization header. */
  sentCredentials?: boolean;
  headers: Dispatcher.ResponseData["headers"];
  body: Dispatcher.ResponseData["body"];
  /** Final URL (after redirects). */
  url: URL;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

/** Talks to one registry host. Create one per host and reuse it: it caches tokens and the scheme. */
export class RegistryClient {
  readonly host: string;
  readonly side: Side | undefined;
  /** What this registry does differently (chunk caps, no chunked uploads). */
  readonly profile: HostProfile;
  readonly options: RegistryClientOptions;
  readonly retry: RetryOptions;
  /** The stall guard's settings, defaults filled in. */
  readonly transfer: TransferSettings;
  private readonly agent: Agent;
  /** The agent behind the stall guard: every request of this client goes through it. */
  private readonly dispatcher: Dispatcher;
  private readonly ownsAgent: boolean;
  private readonly auth: Authenticator;
  private base: URL | undefined;
  private probing: Promise<void> | undefined;
  private readonly userAgent: string;

  constructor(opts: RegistryClientOptions) {
    this.host = opts.host;
    this.side = opts.side;
    this.profile = profileFor(opts.host, opts.profile);
    this.options = opts;
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.transfer = resolveTransfer(opts.transfer);
    this.agent = opts.agent ?? createAgent(opts);
    this.ownsAgent = !opts.agent;
    this.dispatcher = this.agent.compose(stallGuard(this.transfer, opts.side));
    this.userAgent = opts.userAgent ?? "ferry/0.1";
    const realmHosts = [...(this.profile.realmHosts ?? []), ...(opts.tokenRealms ?? [])];
    this.auth = new Authenticator({
      host: opts.host,
      ...(realmHosts.length ? { realmHosts } : {}),
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
      fetchToken: (url, init) => this.fetchToken(url, init),
      baseUrl: () => this.base?.origin,
    });
  }

  /** The same registry seen from the other side of a copy (shares agent, tokens are separate). */
  withSide(side: Side): RegistryClient {
    return new RegistryClient({ ...this.options, side, agent: this.agent });
  }

  /** Closes the connection pool (when this client created it). */
  async close(): Promise<void> {
    if (this.ownsAgent) await this.agent.close();
  }

  /** `https://host` or `http://host`, once the first request has settled which. */
  get baseUrl(): string | undefined {
    return this.base?.toString();
  }

  private wrap(err: unknown, method: string, url: URL, signal?: AbortSignal): unknown {
    if (signal?.aborted) return abortError(signal);
    const t = tlsError(err, this.host, this.side);
    if (t !== err) return t;
    if (err instanceof FerryError) {
      if (err.side === undefined) err.side = this.side;
      return err;
    }
    if (isNetworkError(err) || (err as { code?: string } | null)?.code?.startsWith("ERR_SSL")) {
      return new FerryError("NETWORK", `${method} ${redactUrl(url)}: ${(err as Error).message}`, {
        retryable: isNetworkError(err),
        side: this.side,
        cause: err,
      });
    }
    return err;
  }

  private resolve(path: string): URL {
    if (!this.base) throw new Error("scheme not settled: request() settles it first");
    if (/^https?:\/\//i.test(path)) return new URL(path);
    return new URL(path, this.base);
  }

  private scopes(r: RegistryRequest): string[] {
    const s: string[] = [];
    if (r.repo) s.push(repositoryScope(r.repo, r.push === true || this.side === "destination"));
    if (r.extraScopes) s.push(...r.extraScopes);
    return s;
  }

  /**
   * Picks the scheme without an HTTP request: configured plain-HTTP hosts use http, others https,
   * except that a loopback server which does not speak TLS gets plain HTTP, as docker does. That
   * is found with a bare TLS handshake (certificates are checked later, on the real requests).
   */
  private ensureBase(opts: CallOptions): Promise<void> {
    if (this.base) return Promise.resolve();
    this.probing ??= (async () => {
      const candidates = schemeCandidates(this.host, this.options);
      const scheme = candidates.length === 1 ? candidates[0] : (await speaksTls(this.host, opts.signal)) ? "https" : "http";
      this.base = new URL(`${scheme}://${this.host}`);
    })().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  /**
   * Sends a request through scheme detection, auth, retries and error mapping. With a deadline,
   * the request (and the returned body, until it is read or drained) is aborted at the deadline.
   */
  async request(r: RegistryRequest): Promise<RegistryResponse> {
    const scope = callScope(r.signal, r.deadline, `${r.method} ${this.host}${r.repo ? `/${r.repo}` : ""}`);
    try {
      const res = await this.send(scope.signal === r.signal ? r : { ...r, signal: scope.signal });
      if (res.body.closed) scope.dispose();
      else res.body.once("close", scope.dispose);
      return res;
    } catch (e) {
      scope.dispose();
      throw e;
    }
  }

  private async send(r: RegistryRequest): Promise<RegistryResponse> {
    if (r.signal?.aborted) throw abortError(r.signal);
    await this.ensureBase(r).catch((e: unknown) => {
      // A refused or reset TLS probe is a network error on this side, like any request's.
      throw r.signal?.aborted ? abortError(r.signal) : this.wrap(e, r.method, new URL(`https://${this.host}/`), r.signal);
    });
    const scopes = this.scopes(r);
    const replayable = r.stream === undefined;
    const retryOk = r.retry ?? (replayable && r.method !== "POST" && r.method !== "PATCH");
    let authRetried = false;
    let learned = false;
    for (let attempt = 1; ; attempt++) {
      const url = this.resolve(r.path);
      try {
        const res = await this.once(r, url, scopes);
        if (res.status === 401 && replayable) {
          const c = pickChallenge(parseChallenges(res.headers["www-authenticate"]));
          if (!res.sentCredentials && c && !learned) {
            // No ping: a 401 to a request sent without credentials teaches the challenge. (Several
            // first requests may race; those answered after another learned it must not discard
            // the token it fetched.)
            learned = true;
            if (this.auth.scheme === undefined) this.auth.setChallenge(c);
            await drain(res.body);
            attempt--;
            continue;
          }
          if (this.auth.scheme !== undefined && !authRetried) {
            // An expired or too narrow token: learn the challenge again (it may name a new
            // scope), refetch, and try once more.
            authRetried = true;
            await drain(res.body);
            scopes.unshift(...missingScopes(scopes, c?.params.scope));
            if (c) this.auth.setChallenge(c);
            this.auth.invalidate(scopes);
            // Basic credentials refused: they may have been rotated; read them again once.
            if (this.auth.scheme === "basic") this.auth.refreshCredential();
            attempt--;
            continue;
          }
        }
        if (r.expect.includes(res.status)) return res;
        throw await responseError({ statusCode: res.status, headers: res.headers, body: res.body } as Dispatcher.ResponseData, r.method, res.url, this.side);
      } catch (err) {
        const e = this.wrap(err, r.method, url, r.signal);
        const delay = retryOk ? nextDelay(e, attempt, this.retry, r.deadline) : undefined;
        if (delay === undefined) throw e;
        await sleep(delay, r.signal);
      }
    }
  }

  private async once(r: RegistryRequest, start: URL, scopes: string[]): Promise<RegistryResponse> {
    let url = start;
    const forBody = r.stream !== undefined || (r.body !== undefined && r.body.length > 0);
    for (let hop = 0; ; hop++) {
      if (hop === 0 && this.options.rateBudget) await untilAborted(this.options.rateBudget.take(), r.signal);
      const headers: Record<string, string> = { "user-agent": this.userAgent, ...r.headers };
      // Credentials go only to the registry's own host, never to a redirect or upload target elsewhere.
      if (url.host === this.host) {
        const a = await untilAborted(this.auth.authorization(scopes, { forBody, ...(r.signal ? { signal: r.signal } : {}) }), r.signal);
        if (a) headers.authorization = a;
      }
      if (r.body !== undefined) headers["content-length"] ??= String(Buffer.byteLength(r.body));
      const res = await this.dispatcher.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: r.method,
        headers,
        body: (hop === 0 ? (r.body ?? r.stream) : undefined) as Dispatcher.DispatchOptions["body"],
        signal: r.signal,
        // undici closes the socket after every HEAD (a guard against servers that send HEAD
        // bodies); registries do not, and up-to-date checks are all HEADs: keep the connection.
        ...(r.method === "HEAD" ? { reset: false } : {}),
        ...(r.headersTimeout ? { headersTimeout: r.headersTimeout } : {}),
      });
      const location = header(res.headers, "location");
      if (!(r.followRedirects && REDIRECTS.has(res.statusCode) && location)) {
        return { status: res.statusCode, headers: res.headers, body: res.body, url, sentCredentials: headers.authorization !== undefined };
      }
      await drain(res.body);
      const next = new URL(location, url);
      if (hop >= MAX_REDIRECTS) {
        throw new FerryError("REDIRECT_REFUSED", `${redactUrl(start)}: more than ${MAX_REDIRECTS} redirects`, { side: this.side });
      }
      if (!/^https?:$/.test(next.protocol) || !mayFollow(this.host, next.host)) {
        throw new FerryError("REDIRECT_REFUSED", `${redactUrl(start)}: refusing redirect to ${next.protocol}//${next.host}`, {
          side: this.side,
        });
      }
      url = next;
    }
  }

  private async fetchToken(
    url: URL,
    init: { method: "GET" | "POST"; headers: Record<string, string>; body?: string },
  ): Promise<{ status: number; text: string }> {
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await this.dispatcher.request({
          origin: url.origin,
          path: url.pathname + url.search,
          method: init.method,
          headers: { "user-agent": this.userAgent, ...init.headers },
          body: init.body,
        });
        const text = (await readCapped(res.body, 64 * 1024)).toString("utf8");
        if ((res.statusCode >= 500 || res.statusCode === 429) && attempt < this.retry.maxAttempts) {
          await sleep(Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 3 ** (attempt - 1)));
          continue;
        }
        return { status: res.statusCode, text };
      } catch (err) {
        const e = this.wrap(err, init.method, url);
        const delay = nextDelay(e, attempt, this.retry, undefined);
        if (delay === undefined) throw e;
        await sleep(delay);
      }
    }
  }

  /**
   * HEAD errors have no body, so the registry's error code is lost. On failure only, ask again
   * with GET to learn it (one request, on the error path), and raise that error instead.
   */
  private async explainHead(p: Promise<RegistryResponse>, path: string, repo: string, opts: CallOptions): Promise<RegistryResponse> {
    try {
      return await p;
    } catch (e) {
      if (!(e instanceof RegistryError) || e.ociCodes.length > 0 || e.retryable || e.status < 400) throw e;
      try {
        const res = await this.request({ ...opts, method: "GET", path, repo, headers: { accept: MANIFEST_ACCEPT.join(", ") }, expect: [], retry: false });
        await drain(res.body);
      } catch (detailed) {
        if (detailed instanceof RegistryError && detailed.status === e.status && detailed.ociCodes.length > 0) throw detailed;
      }
      throw e;
    }
  }

  // ---- manifests -------------------------------------------------------------------------

  /** HEAD a manifest: its descriptor, or undefined when the registry does not have it. */
  async manifestHead(repo: string, ref: string, opts: CallOptions = {}): Promise<Descriptor | undefined> {
    const res = await this.explainHead(
      this.request({
        ...opts,
        method: "HEAD",
        path: `/v2/${repo}/manifests/${ref}`,
        repo,
        headers: { accept: MANIFEST_ACCEPT.join(", ") },
        expect: [200, 404],
      }),
      `/v2/${repo}/manifests/${ref}`,
      repo,
      opts,
    );
    await drain(res.body);
    if (res.status === 404) return undefined;
    const digest = header(res.headers, "docker-content-digest");
    const mediaType = bareMediaType(header(res.headers, "content-type"));
    const size = Number(header(res.headers, "content-length"));
    if (!digest || !mediaType || !Number.isFinite(size)) {
      // Some registries omit the digest on HEAD: fall back to GET and hash (regclient does too).
      const raw = await this.manifestGet(repo, ref, opts);
      return { mediaType: raw.mediaType, digest: raw.digest, size: raw.bytes.byteLength };
    }
    return { mediaType, digest, size };
  }

  /**
   * GET a manifest with its exact bytes. By digest the bytes must hash to it; by tag the
   * server's Docker-Content-Digest is not trusted (often wrong), the digest is computed.
   */
  async manifestGet(repo: string, ref: string, opts: CallOptions = {}): Promise<RawManifest> {
    const max = this.options.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
    const res = await this.request({
      ...opts,
      method: "GET",
      path: `/v2/${repo}/manifests/${ref}`,
      repo,
      headers: { accept: MANIFEST_ACCEPT.join(", ") },
      expect: [200],
    });
    const bytes = await readCapped(res.body, max + 1);
    const where = `${this.host}/${repo}@${ref}`;
    try {
      if (bytes.byteLength > max) {
        throw new FerryError("MANIFEST_TOO_LARGE", `manifest ${where} exceeds the ${max}-byte cap`);
      }
      const raw = parseManifest(bytes, header(res.headers, "content-type"), { maxBytes: max });
      if (ref.includes(":")) {
        const d = parseDigest(ref);
        const got = digestOf(bytes, d.algorithm);
        // A signed schema1 manifest's digest covers its payload without signatures; not ours to copy.
        if (got !== ref && raw.mediaType !== DOCKER_SCHEMA1_SIGNED) {
          throw new FerryError("DIGEST_MISMATCH", `manifest ${where}: content hashes to ${got}`);
        }
        return { ...raw, digest: ref };
      }
      return raw;
    } catch (e) {
      throw this.wrap(e, "GET", res.url);
    }
  }

  /** PUT a manifest's raw bytes under a tag or digest; returns the digest of the bytes. */
  async manifestPut(repo: string, ref: string, bytes: Buffer, mediaType: string, opts: CallOptions = {}): Promise<string> {
    const res = await this.request({
      ...opts,
      method: "PUT",
      path: `/v2/${repo}/manifests/${ref}`,
      repo,
      push: true,
      headers: { "content-type": mediaType },
      body: bytes,
      expect: [200, 201, 202, 204],
    });
    await drain(res.body);
    const digest = digestOf(bytes);
    const said = header(res.headers, "docker-content-digest");
    if (said?.startsWith("sha256:") && said !== digest) {
      throw new FerryError("DIGEST_MISMATCH", `${this.host}/${repo}: registry stored manifest as ${said}, expected ${digest}`, {
        side: this.side,
      });
    }
    return digest;
  }

  /** Deletes a manifest by digest (used by tests and cleanup). */
  async manifestDelete(repo: string, digest: string, opts: CallOptions = {}): Promise<void> {
    const res = await this.request({ ...opts, method: "DELETE", path: `/v2/${repo}/manifests/${digest}`, repo, push: true, expect: [202, 200, 204] });
    await drain(res.body);
  }

  /** Lists tags page by page, following `Link: <…>; rel="next"` (never counting results). */
  async *tagList(repo: string, opts: CallOptions & { pageSize?: number } = {}): AsyncGenerator<string[]> {
    // ECR rejects n > 1000.
    const n = Math.min(opts.pageSize ?? 1000, 1000);
    let path: string | undefined = `/v2/${repo}/tags/list?n=${n}`;
    const seen = new Set<string>();
    while (path) {
      if (seen.has(path)) break;
      seen.add(path);
      const res = await this.request({ ...opts, method: "GET", path, repo, expect: [200, 404] });
      if (res.status === 404) {
        await drain(res.body);
        return;
      }
      const body = JSON.parse((await readCapped(res.body, 16 * 1024 * 1024)).toString("utf8")) as { tags?: string[] | null };
      yield body.tags ?? [];
      path = nextLink(header(res.headers, "link"), res.url);
    }
  }

  /** Lists repository names from `/v2/_catalog`, page by page (`Link` pagination). */
  async *catalogList(opts: CallOptions & { pageSize?: number } = {}): AsyncGenerator<string[]> {
    let path: string | undefined = `/v2/_catalog?n=${Math.min(opts.pageSize ?? 1000, 1000)}`;
    const seen = new Set<string>();
    while (path && !seen.has(path)) {
      seen.add(path);
      const res = await this.request({ ...opts, method: "GET", path, extraScopes: ["registry:catalog:*"], expect: [200] });
      const body = JSON.parse((await readCapped(res.body, 16 * 1024 * 1024)).toString("utf8")) as { repositories?: string[] | null };
      yield body.repositories ?? [];
      path = nextLink(header(res.headers, "link"), res.url);
    }
  }

  /** All tags of a repository. */
  async tagListAll(repo: string, opts: CallOptions & { pageSize?: number } = {}): Promise<string[]> {
    const all: string[] = [];
    for await (const page of this.tagList(repo, opts)) all.push(...page);
    return all;
  }

  // ---- blobs ------------------------------------------------------------------------------

  /** HEAD a blob: its size, or undefined when absent. */
  async blobHead(repo: string, digest: string, opts: CallOptions = {}): Promise<number | undefined> {
    const path = `/v2/${repo}/blobs/${digest}`;
    const res = await this.explainHead(this.request({ ...opts, method: "HEAD", path, repo, expect: [200, 404] }), path, repo, opts);
    await drain(res.body);
    if (res.status === 404) return undefined;
    const size = Number(header(res.headers, "content-length"));
    return Number.isFinite(size) ? size : -1;
  }

  /**
   * Cross-repository mount. `mounted: true` when done (201). Otherwise the registry opened an
   * ordinary upload (202, its `location` given to use or cancel) or refused (any error).
   */
  async blobMount(repo: string, fromRepo: string, digest: string, opts: CallOptions = {}): Promise<{ mounted: true } | { mounted: false; location?: string }> {
    let res: RegistryResponse;
    try {
      res = await this.request({
        ...opts,
        method: "POST",
        path: `/v2/${repo}/blobs/uploads/?mount=${digest}&from=${fromRepo}`,
        repo,
        push: true,
        extraScopes: [repositoryScope(fromRepo, false)],
        headers: { "content-length": "0" },
        expect: [201, 202],
      });
    } catch (e) {
      // Harbor answers 401 when the source project is missing; Quay and others vary: fall back.
      if (e instanceof RegistryError && e.status >= 400 && e.status < 500) return { mounted: false };
      throw e;
    }
    await drain(res.body);
    if (res.status === 201) return { mounted: true };
    const loc = header(res.headers, "location");
    return loc ? { mounted: false, location: resolveLocation(loc, res.url) } : { mounted: false };
  }

  /** A verified, resumable stream of a blob (see blob-download.ts). */
  blobGet(repo: string, desc: { digest: string; size: number }, opts: CallOptions = {}): Promise<Readable> {
    return download.blobGet(this, repo, desc, opts);
  }

  /** Uploads a blob from a re-openable body (see blob-upload.ts). */
  blobPut(repo: string, desc: { digest: string; size: number }, open: BodyOpener, opts: CallOptions & { location?: string } = {}): Promise<UploadOutcome> {
    return upload.blobPut(this, repo, desc, open, opts);
  }

  /** Uploads a small in-memory blob; returns its digest. */
  blobPutBytes(repo: string, bytes: Buffer, opts: CallOptions = {}): Promise<string> {
    return upload.blobPutBytes(this, repo, bytes, opts);
  }

  /** Cancels an upload session; failures are ignored (the registry purges stale sessions). */
  async blobUploadCancel(location: string, repo: string): Promise<void> {
    try {
      const res = await this.request({ method: "DELETE", path: location, repo, push: true, expect: [200, 202, 204, 404], retry: false });
      await drain(res.body);
    } catch {
      // best effort
    }
  }
}

function nextLink(link: string | undefined, against: URL): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(",")) {
    const m = /<([^>]*)>\s*;(.*)$/.exec(part.trim());
    if (m?.[1] && /rel="?next"?/i.test(m[2] ?? "")) return resolveLocation(m[1], against);
  }
  return undefined;
}

/** True when the server at `host` completes a TLS handshake; false when it answers in plain HTTP. */
function speaksTls(host: string, signal?: AbortSignal): Promise<boolean> {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
  const hostname = (m?.[1] ?? host).replace(/^\[|\]$/g, "");
  const port = Number(m?.[2] ?? 443);
  return new Promise((resolve, reject) => {
    // Only the protocol is probed here; certificates are verified on the real requests.
    const s = tlsConnect({ host: hostname, port, rejectUnauthorized: false, ...(signal ? { signal } : {}) });
    const done = (v: boolean | Error) => {
      s.destroy();
      if (v instanceof Error) reject(v);
      else resolve(v);
    };
    s.once("secureConnect", () => done(true));
    s.once("error", (e) => done(isPlainHttpAnswer(e) ? false : e));
    s.setTimeout(10_000, () => done(new FerryError("NETWORK", `${host}: TLS probe timed out`, { retryable: true })));
  });
}
