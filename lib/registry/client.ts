/**
 * A registry client for one host: builds the transport (the layers below, outermost first) and
 * offers the registry operations on it, named resource-first (`manifestGet`, `blobHead`).
 *
 *   deadline → scheme → retry → errors → reauth → rate → redirects → authorize → dispatch (+ stall guard)
 *
 * Every method takes `{signal, deadline}`: retries never run past the deadline, and requests still
 * in flight at the deadline (a body mid-stream, an upload) are aborted with DEADLINE. Every read
 * has a stall guard (stall.ts). The operations themselves live in manifests.ts, referrers.ts,
 * blobs.ts, tags.ts, blob-download.ts and blob-upload.ts, on the narrow RegistryEndpoint interface.
 */
import type { Readable } from "node:stream";
import type { Agent, Dispatcher } from "undici";
import type { Side } from "../errors.ts";
import type { Descriptor, RawManifest } from "../oci/manifest.ts";
import { Authenticator } from "./auth.ts";
import { authorizeLayer, reauthLayer, requestAuth } from "./auth-layer.ts";
import * as download from "./blob-download.ts";
import { BlobLocations } from "./blob-locations.ts";
import * as upload from "./blob-upload.ts";
import type { BodyOpener, UploadMode, UploadOutcome, UploadSettings } from "./blob-upload.ts";
import { blobHead, blobMount, type MountResult } from "./blobs.ts";
import type { CredentialProvider } from "./credentials.ts";
import { deadlineLayer } from "./deadline.ts";
import { dispatchSend } from "./dispatch.ts";
import type { RegistryEndpoint } from "./endpoint.ts";
import { errorLayer } from "./error-layer.ts";
import { type CallOptions, compose, type Exchange, type Layer, type RegistryRequest, type Reply, type Send } from "./exchange.ts";
import { type HostProfile, type ProfileName, profileFor } from "./host-profile.ts";
import { type ManifestPutResult, manifestDelete, manifestGet, manifestHead, manifestPut, manifestPutResult } from "./manifests.ts";
import { type RequestBudget, rateLayer } from "./rate.ts";
import { type ReferrersList, type ReferrersOptions, referrersList } from "./referrers.ts";
import { redirectLayer } from "./redirect-layer.ts";
import { DEFAULT_RETRY, type RetryOptions } from "./retry.ts";
import { retryLayer } from "./retry-layer.ts";
import { SchemeProbe, schemeLayer } from "./scheme.ts";
import { resolveTransfer, stallGuard, type TransferSettings } from "./stall.ts";
import { catalogList, type ListOptions, tagList, tagListAll } from "./tags.ts";
import { tokenFetch } from "./token-fetch.ts";
import { createAgent, type TransportOptions } from "./transport.ts";
import { blobUploadCancel } from "./upload-session.ts";

export type { CallOptions, RegistryRequest } from "./exchange.ts";
export type { UploadMode } from "./blob-upload.ts";
export type { ManifestPutResult } from "./manifests.ts";
export type { ReferrersList, ReferrersOptions } from "./referrers.ts";
/** A response; `body` must be consumed or drained by the caller. */
export type RegistryResponse = Reply;

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
  rateBudget?: RequestBudget;
}

/** Talks to one registry host. Create one per host and reuse it: it caches tokens and the scheme. */
export class RegistryClient implements RegistryEndpoint {
  readonly host: string;
  readonly side: Side | undefined;
  /** What this registry does differently (chunk caps, no chunked uploads). */
  readonly profile: HostProfile;
  readonly options: RegistryClientOptions;
  /** The one retry policy: requests, token fetches and whole uploads. */
  readonly retry: RetryOptions;
  /** The stall guard's settings, defaults filled in. */
  readonly transfer: TransferSettings;
  private readonly agent: Agent;
  private readonly ownsAgent: boolean;
  private readonly scheme: SchemeProbe;
  private readonly uploads: UploadSettings;
  /** Where this process last saw each blob on this registry (for mounts). */
  readonly blobLocations: BlobLocations;
  private readonly entry: Send<RegistryRequest>;

  constructor(opts: RegistryClientOptions) {
    this.host = opts.host;
    this.side = opts.side;
    this.profile = profileFor(opts.host, opts.profile);
    this.options = opts;
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.transfer = resolveTransfer(opts.transfer);
    this.agent = opts.agent ?? createAgent(opts);
    this.ownsAgent = !opts.agent;
    this.scheme = new SchemeProbe(opts.host, opts);
    this.uploads = { mode: opts.uploadMode, chunkSize: opts.chunkSize, singlePost: opts.singlePostUpload };
    this.blobLocations = new BlobLocations();
    // Every request of this client, token fetches included, goes through the stall guard.
    const dispatcher: Dispatcher = this.agent.compose(stallGuard(this.transfer, opts.side));
    const dispatch = dispatchSend(dispatcher, opts.userAgent ?? "ferry/0.1");
    const auth = this.authenticator(tokenFetch(dispatch, this.retry, this));
    const layers: Layer[] = [
      retryLayer(this.retry),
      errorLayer(this),
      reauthLayer(auth),
      ...(opts.rateBudget ? [rateLayer(opts.rateBudget)] : []),
      redirectLayer(this),
      authorizeLayer(auth, opts.host),
    ];
    const send = compose(...layers)(dispatch);
    const exchange = (r: RegistryRequest, url: URL): Exchange => exchangeOf(r, url, this.side);
    this.entry = deadlineLayer(opts.host)(schemeLayer(this.scheme, this, exchange)(send));
  }

  private authenticator(fetch: ReturnType<typeof tokenFetch>): Authenticator {
    const realmHosts = [...(this.profile.realmHosts ?? []), ...(this.options.tokenRealms ?? [])];
    return new Authenticator({
      host: this.host,
      ...(realmHosts.length ? { realmHosts } : {}),
      ...(this.options.credentials ? { credentials: this.options.credentials } : {}),
      fetchToken: fetch,
      baseUrl: () => this.scheme.base?.origin,
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
    return this.scheme.base?.toString();
  }

  /**
   * Sends a request through the transport. With a deadline, the request (and the returned body,
   * until it is read or drained) is aborted at the deadline.
   */
  send(r: RegistryRequest): Promise<RegistryResponse> {
    return this.entry(r);
  }

  // ---- manifests (manifests.ts) -----------------------------------------------------------

  /** HEAD a manifest: its descriptor, or undefined when the registry does not have it. */
  manifestHead(repo: string, ref: string, opts: CallOptions = {}): Promise<Descriptor | undefined> {
    return manifestHead(this, repo, ref, opts, this.options.maxManifestBytes);
  }

  /** GET a manifest with its exact bytes, verified when asked for by digest. */
  manifestGet(repo: string, ref: string, opts: CallOptions = {}): Promise<RawManifest> {
    return manifestGet(this, repo, ref, opts, this.options.maxManifestBytes);
  }

  /** PUT a manifest's raw bytes under a tag or digest; returns the digest of the bytes. */
  manifestPut(repo: string, ref: string, bytes: Buffer, mediaType: string, opts: CallOptions = {}): Promise<string> {
    return manifestPut(this, repo, ref, bytes, mediaType, opts);
  }

  /** The same PUT as {@link manifestPut}, also returning the registry's `OCI-Subject` answer (absent: keep the fallback tag). */
  manifestPutResult(repo: string, ref: string, bytes: Buffer, mediaType: string, opts: CallOptions = {}): Promise<ManifestPutResult> {
    return manifestPutResult(this, repo, ref, bytes, mediaType, opts);
  }

  /** Deletes a manifest by digest (used by tests and cleanup). */
  manifestDelete(repo: string, digest: string, opts: CallOptions = {}): Promise<void> {
    return manifestDelete(this, repo, digest, opts);
  }

  // ---- referrers (referrers.ts) ------------------------------------------------------------

  /** The OCI 1.1 referrers of `digest` (of `artifactTypes` when given), or `supported: false` when the registry has no referrers API. */
  referrersList(repo: string, digest: string, opts: ReferrersOptions = {}): Promise<ReferrersList> {
    return referrersList(this, repo, digest, opts, this.options.maxManifestBytes);
  }

  // ---- tags and catalog (tags.ts) ---------------------------------------------------------

  /** Lists tags page by page, following `Link: <…>; rel="next"` (never counting results). */
  tagList(repo: string, opts: ListOptions = {}): AsyncGenerator<string[]> {
    return tagList(this, repo, opts);
  }

  /** All tags of a repository. */
  tagListAll(repo: string, opts: ListOptions = {}): Promise<string[]> {
    return tagListAll(this, repo, opts);
  }

  /** Lists repository names from `/v2/_catalog`, page by page (`Link` pagination). */
  catalogList(opts: ListOptions = {}): AsyncGenerator<string[]> {
    return catalogList(this, opts);
  }

  // ---- blobs (blobs.ts, blob-download.ts, blob-upload.ts) ---------------------------------

  /** HEAD a blob: its size, or undefined when absent. */
  blobHead(repo: string, digest: string, opts: CallOptions = {}): Promise<number | undefined> {
    return blobHead(this, repo, digest, opts);
  }

  /** Cross-repository mount: `mounted: true` (201), or the upload session opened instead (202), or refused. */
  blobMount(repo: string, fromRepo: string, digest: string, opts: CallOptions = {}): Promise<MountResult> {
    return blobMount(this, repo, fromRepo, digest, opts);
  }

  /** A verified, resumable stream of a blob (see blob-download.ts). */
  blobGet(repo: string, desc: { digest: string; size: number }, opts: CallOptions = {}): Promise<Readable> {
    return download.blobGet(this, repo, desc, opts);
  }

  /** Uploads a blob from a re-openable body (see blob-upload.ts). */
  blobPut(repo: string, desc: { digest: string; size: number }, open: BodyOpener, opts: CallOptions & { location?: string } = {}): Promise<UploadOutcome> {
    return upload.blobPut(this, this.uploads, repo, desc, open, opts);
  }

  /** Uploads a small in-memory blob; returns its digest. */
  blobPutBytes(repo: string, bytes: Buffer, opts: CallOptions = {}): Promise<string> {
    return upload.blobPutBytes(this, this.uploads, repo, bytes, opts);
  }

  /** Cancels an upload session; failures are ignored (the registry purges stale sessions). */
  blobUploadCancel(location: string, repo: string): Promise<void> {
    return blobUploadCancel(this, location, repo);
  }
}

/** The Exchange for an operation's request at `url`: final headers and the request's auth needs. */
function exchangeOf(r: RegistryRequest, url: URL, side: Side | undefined): Exchange {
  const headers: Record<string, string> = { ...r.headers };
  if (r.body !== undefined) headers["content-length"] ??= String(Buffer.byteLength(r.body));
  return {
    method: r.method,
    url,
    headers,
    body: r.body,
    stream: r.stream,
    expect: r.expect,
    followRedirects: r.followRedirects,
    retry: r.retry,
    headersTimeout: r.headersTimeout,
    signal: r.signal,
    deadline: r.deadline,
    auth: requestAuth(r, side),
  };
}
