/**
 * A small in-memory OCI registry on node:http, port 0, for protocol quirks a real registry
 * cannot show (ECR's 201 PATCH, GHCR's chunk cap, 429 with Retry-After, cut connections…).
 * It speaks the real protocol (ping, token auth, blobs with Range, uploads, manifests, tags,
 * opt-in OCI 1.1 referrers) and logs every request; `hook` lets a test answer a request its own way.
 */
import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

export interface LoggedRequest {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  bodyLength: number;
}

export type FakeAuth =
  | { kind: "none" }
  | { kind: "basic"; username: string; password: string }
  | {
      kind: "bearer";
      /** Raw WWW-Authenticate value; default `Bearer realm="<url>/token",service="fake"`. */
      challenge?: (base: string) => string;
      /** Token endpoint answer; default grants what was asked, 300 s. */
      token?: (scopes: string[], req: IncomingMessage) => { status: number; body: unknown };
      /** Scopes actually granted (default: all asked). */
      grant?: (scopes: string[]) => string[];
      /** Token lifetime enforced by the registry, ms (default: unlimited). */
      lifetimeMs?: number;
      username?: string;
      password?: string;
    };

export interface FakeRegistryOptions {
  auth?: FakeAuth;
  /** Behave like distribution on Accept: 404 for OCI content without OCI types, amd64 child for lists without list types. */
  strictAccept?: boolean;
  /** Return true after answering a request yourself; called before the fake's own handling. */
  hook?: (req: IncomingMessage, res: ServerResponse, body: Buffer, reg: FakeRegistry) => boolean | Promise<boolean>;
  /** Page size cap for tags/list when the client asks for more. */
  tagPageSize?: number;
  /**
   * The OCI 1.1 referrers API (distribution-spec v1.1): a manifest PUT with a `subject` is answered
   * `OCI-Subject` and listed under it. Without it the route answers 404, as distribution 2.8 does.
   */
  referrers?: boolean;
  /** Referrers per page; more follow through `Link: <…>; rel="next"`. Default: one page. */
  referrersPageSize?: number;
  /** Upload quirks of real registries. */
  quirks?: {
    /** Status for an accepted PATCH (ECR answers 201). */
    patchStatus?: number;
    /** Always answer PATCH with `Range: 0-<end of first chunk>` (ECR stops advancing it). */
    stuckRange?: boolean;
    /** Refuse PATCH bodies over this many bytes with 416 (GHCR: 4 MiB). */
    maxChunk?: number;
    /** Sent as OCI-Chunk-Min-Length on POST. */
    chunkMinLength?: number;
    /** The nth PATCH (1-based) stores only half its body and answers 416. */
    partialPatch?: number;
    /** POST ?digest= with a body is not supported: ignore the body, answer 202. */
    noSinglePost?: boolean;
  };
}

/** A referrers list entry (distribution-spec "Listing Referrers"). */
export interface ReferrerEntry {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

interface Upload {
  repo: string;
  parts: Buffer[];
  size: number;
}

const sha256 = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** The fake registry; `start()` it, then use `host` (127.0.0.1:port). */
export class FakeRegistry {
  readonly requests: LoggedRequest[] = [];
  readonly blobs = new Map<string, Buffer>();
  readonly repoBlobs = new Map<string, Set<string>>();
  readonly manifests = new Map<string, Map<string, { bytes: Buffer; mediaType: string }>>();
  readonly uploads = new Map<string, Upload>();
  readonly issuedTokens: Array<{ token: string; scopes: string[] }> = [];
  /** Referrers by repository and subject digest, in push order (with `referrers: true`). */
  readonly referrers = new Map<string, Map<string, Map<string, ReferrerEntry>>>();
  private server: Server | undefined;
  private opts: FakeRegistryOptions;
  private patches = 0;
  host = "";
  /** TCP connections accepted so far (pool hygiene). */
  connections = 0;

  constructor(opts: FakeRegistryOptions = {}) {
    this.opts = opts;
  }

  get url(): string {
    return `http://${this.host}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch((e) => {
        res.statusCode = 500;
        res.end(String(e));
      });
    });
    // undici subtracts a 2 s threshold from the server's Keep-Alive hint: 2 s would mean no reuse at all.
    this.server.keepAliveTimeout = 10_000;
    this.server.on("connection", () => {
      this.connections++;
    });
    await new Promise<void>((r) => this.server?.listen(0, "127.0.0.1", r));
    this.host = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  /** Requests matching method and path regex. */
  count(method: string, path: RegExp = /.*/): number {
    return this.requests.filter((r) => r.method === method && path.test(r.url)).length;
  }

  putBlob(repo: string, bytes: Buffer): string {
    const d = sha256(bytes);
    this.blobs.set(d, bytes);
    let s = this.repoBlobs.get(repo);
    if (!s) {
      s = new Set();
      this.repoBlobs.set(repo, s);
    }
    s.add(d);
    return d;
  }

  putManifest(repo: string, ref: string, bytes: Buffer, mediaType: string): string {
    const d = sha256(bytes);
    let m = this.manifests.get(repo);
    if (!m) {
      m = new Map();
      this.manifests.set(repo, m);
    }
    m.set(d, { bytes, mediaType });
    if (ref !== d) m.set(ref, { bytes, mediaType });
    return d;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Logged before the body is read, and counted as it arrives: an aborted upload shows how far it got.
    const entry: LoggedRequest = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, bodyLength: 0 };
    this.requests.push(entry);
    const chunks: Buffer[] = [];
    for await (const c of req) {
      chunks.push(c as Buffer);
      entry.bodyLength += (c as Buffer).byteLength;
    }
    const body = Buffer.concat(chunks);
    if (this.opts.hook && (await this.opts.hook(req, res, body, this))) return;
    const url = new URL(req.url ?? "/", this.url);
    if (url.pathname === "/token") return this.token(req, res, url);
    if (!url.pathname.startsWith("/v2/")) return send(res, 404, {});
    if (!this.authorized(req, res, url)) return;
    if (url.pathname === "/v2/") return send(res, 200, {});
    let m = /^\/v2\/(.+)\/blobs\/uploads\/([^/]*)$/.exec(url.pathname);
    if (m) return this.upload(req, res, url, body, m[1] as string, m[2] as string);
    m = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(url.pathname);
    if (m) return this.blob(req, res, m[1] as string, m[2] as string);
    m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
    if (m) return this.manifest(req, res, body, m[1] as string, m[2] as string);
    m = /^\/v2\/(.+)\/tags\/list$/.exec(url.pathname);
    if (m) return this.tags(res, url, m[1] as string);
    m = /^\/v2\/(.+)\/referrers\/([^/]+)$/.exec(url.pathname);
    if (m && req.method === "GET") return this.referrersPage(res, url, m[1] as string, m[2] as string);
    send(res, 404, { errors: [{ code: "UNSUPPORTED", message: "not here" }] });
  }

  private challenge(): string {
    const a = this.opts.auth;
    if (a?.kind === "basic") return 'Basic realm="fake"';
    if (a?.kind === "bearer") return a.challenge ? a.challenge(this.url) : `Bearer realm="${this.url}/token",service="fake"`;
    return "";
  }

  private authorized(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    const a = this.opts.auth;
    if (!a || a.kind === "none") return true;
    const h = req.headers.authorization ?? "";
    if (a.kind === "basic") {
      if (h === `Basic ${Buffer.from(`${a.username}:${a.password}`).toString("base64")}`) return true;
      res.setHeader("www-authenticate", this.challenge());
      send(res, 401, { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] });
      return false;
    }
    const repoMatch = /^\/v2\/(.+)\/(blobs|manifests|tags|referrers)\//.exec(url.pathname);
    const need = repoMatch ? [`repository:${repoMatch[1]}:${["GET", "HEAD"].includes(req.method ?? "") ? "pull" : "push"}`] : [];
    if (req.method === "POST" && url.searchParams.get("from")) need.push(`repository:${url.searchParams.get("from")}:pull`);
    const tok = h.startsWith("Bearer ") ? this.issuedTokens.find((t) => t.token === h.slice(7)) : undefined;
    const valid = tok && (!a.lifetimeMs || Date.now() - Number(tok.token.split(".")[1]) < a.lifetimeMs);
    const missing = need.filter((n) => {
      const [type, name, action] = [n.slice(0, n.indexOf(":")), n.slice(n.indexOf(":") + 1, n.lastIndexOf(":")), n.slice(n.lastIndexOf(":") + 1)];
      return !tok?.scopes.some(
        (s) =>
          s.startsWith(`${type}:${name}:`) &&
          s
            .slice(s.lastIndexOf(":") + 1)
            .split(",")
            .includes(action),
      );
    });
    if (valid && missing.length === 0) return true;
    const scopeParam = need.length ? `,scope="${need.map((n) => n.replace(/:push$/, ":pull,push")).join(" ")}"` : "";
    const errParam = valid && missing.length ? ',error="insufficient_scope"' : "";
    res.setHeader("www-authenticate", this.challenge() + scopeParam + errParam);
    send(res, 401, { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] });
    return false;
  }

  private token(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const a = this.opts.auth;
    if (a?.kind !== "bearer") return send(res, 404, {});
    if (a.username && req.headers.authorization !== `Basic ${Buffer.from(`${a.username}:${a.password}`).toString("base64")}`) {
      return send(res, 401, { details: "bad credentials" });
    }
    const scopes = url.searchParams.getAll("scope").flatMap((s) => s.split(" "));
    const granted = a.grant ? a.grant(scopes) : scopes;
    const token = `${randomUUID()}.${Date.now()}`;
    this.issuedTokens.push({ token, scopes: granted });
    if (a.token) {
      const r = a.token(scopes, req);
      const b = JSON.stringify(r.body).replaceAll("$TOKEN", token);
      res.statusCode = r.status;
      res.setHeader("content-type", "application/json");
      res.end(b);
      return;
    }
    send(res, 200, { token, expires_in: 300 });
  }

  private blob(req: IncomingMessage, res: ServerResponse, repo: string, digest: string): void {
    const b = this.blobs.get(digest);
    if (!b || !this.repoBlobs.get(repo)?.has(digest)) {
      if (req.method === "HEAD") return end(res, 404);
      return send(res, 404, { errors: [{ code: "BLOB_UNKNOWN", message: "blob unknown to registry" }] });
    }
    res.setHeader("docker-content-digest", digest);
    res.setHeader("content-type", "application/octet-stream");
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    if (range && req.method === "GET") {
      const start = Number(range[1]);
      res.statusCode = 206;
      res.setHeader("content-range", `bytes ${start}-${b.byteLength - 1}/${b.byteLength}`);
      res.setHeader("content-length", String(b.byteLength - start));
      res.end(b.subarray(start));
      return;
    }
    res.setHeader("content-length", String(b.byteLength));
    res.statusCode = 200;
    res.end(req.method === "HEAD" ? undefined : b);
  }

  private upload(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer, repo: string, id: string): void {
    if (req.method === "POST" && id === "") {
      const mount = url.searchParams.get("mount");
      const from = url.searchParams.get("from");
      if (mount && from && this.repoBlobs.get(from)?.has(mount)) {
        const b = this.blobs.get(mount) as Buffer;
        this.putBlob(repo, b);
        res.setHeader("location", `/v2/${repo}/blobs/${mount}`);
        return end(res, 201);
      }
      const digest = url.searchParams.get("digest");
      const uuid = randomUUID();
      this.uploads.set(uuid, { repo, parts: [], size: 0 });
      if (digest && body.byteLength > 0 && !this.opts.quirks?.noSinglePost) return this.finish(res, uuid, digest, body);
      if (this.opts.quirks?.chunkMinLength) res.setHeader("oci-chunk-min-length", String(this.opts.quirks.chunkMinLength));
      res.setHeader("location", `/v2/${repo}/blobs/uploads/${uuid}?_state=${uuid}%3D%3D`);
      res.setHeader("range", "0-0");
      res.setHeader("docker-upload-uuid", uuid);
      return end(res, 202);
    }
    const up = this.uploads.get(id);
    if (!up) return send(res, 404, { errors: [{ code: "BLOB_UPLOAD_UNKNOWN", message: "upload unknown" }] });
    if (req.method === "PATCH") {
      const q = this.opts.quirks ?? {};
      this.patches++;
      const cr = req.headers["content-range"];
      if (cr) {
        const m = /^(\d+)-(\d+)$/.exec(cr);
        if (!m || Number(m[1]) !== up.size) return send(res, 416, { errors: [{ code: "BLOB_UPLOAD_INVALID", message: "range" }] });
      }
      if (q.maxChunk !== undefined && body.byteLength > q.maxChunk) {
        return send(res, 416, { errors: [{ code: "REQUESTED_RANGE_NOT_SATISFIABLE", message: "exceeds the maximum permissible limit of 4.00MiB" }] });
      }
      if (q.partialPatch === this.patches) {
        const half = body.subarray(0, Math.floor(body.byteLength / 2));
        up.parts.push(half);
        up.size += half.byteLength;
        return send(res, 416, { errors: [{ code: "BLOB_UPLOAD_INVALID", message: "range" }] });
      }
      const firstEnd = up.size === 0 ? body.byteLength - 1 : undefined;
      up.parts.push(body);
      up.size += body.byteLength;
      res.setHeader("location", `/v2/${repo}/blobs/uploads/${id}?_state=${id}-${up.size}%3D%3D`);
      if (q.stuckRange) {
        (up as Upload & { firstEnd?: number }).firstEnd ??= firstEnd;
        res.setHeader("range", `0-${(up as Upload & { firstEnd?: number }).firstEnd}`);
      } else res.setHeader("range", `0-${Math.max(0, up.size - 1)}`);
      return end(res, q.patchStatus ?? 202);
    }
    if (req.method === "GET") {
      res.setHeader("location", `/v2/${repo}/blobs/uploads/${id}?_state=${id}%3D%3D`);
      res.setHeader("range", `0-${Math.max(0, up.size - 1)}`);
      return end(res, 204);
    }
    if (req.method === "DELETE") {
      this.uploads.delete(id);
      return end(res, 204);
    }
    if (req.method === "PUT") return this.finish(res, id, url.searchParams.get("digest") ?? "", body);
    send(res, 405, {});
  }

  private finish(res: ServerResponse, id: string, digest: string, last: Buffer): void {
    const up = this.uploads.get(id) as Upload;
    const all = Buffer.concat([...up.parts, last]);
    this.uploads.delete(id);
    if (sha256(all) !== digest) return send(res, 400, { errors: [{ code: "DIGEST_INVALID", message: "provided digest did not match uploaded content" }] });
    this.putBlob(up.repo, all);
    res.setHeader("location", `/v2/${up.repo}/blobs/${digest}`);
    res.setHeader("docker-content-digest", digest);
    end(res, 201);
  }

  private manifest(req: IncomingMessage, res: ServerResponse, body: Buffer, repo: string, ref: string): void {
    if (req.method === "PUT") {
      const mediaType = (req.headers["content-type"] ?? "").split(";")[0] as string;
      const d = this.putManifest(repo, ref, body, mediaType);
      const subject = this.opts.referrers ? this.recordReferrer(repo, body, mediaType) : undefined;
      if (subject) res.setHeader("oci-subject", subject);
      res.setHeader("docker-content-digest", d);
      res.setHeader("location", `/v2/${repo}/manifests/${d}`);
      return end(res, 201);
    }
    let m = this.manifests.get(repo)?.get(ref);
    if (!m) {
      if (req.method === "HEAD") return end(res, 404);
      return send(res, 404, { errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }] });
    }
    if (this.opts.strictAccept) {
      const accept = String(req.headers.accept ?? "");
      if (m.mediaType.includes("vnd.oci.") && !accept.includes(m.mediaType)) {
        if (req.method === "HEAD") return end(res, 404);
        return send(res, 404, { errors: [{ code: "MANIFEST_UNKNOWN", message: "OCI manifest found, but accept header does not support OCI manifests" }] });
      }
      if (m.mediaType.includes("manifest.list") && !accept.includes(m.mediaType)) {
        const list = JSON.parse(m.bytes.toString()) as { manifests: Array<{ digest: string; platform?: { architecture: string } }> };
        const amd = list.manifests.find((x) => x.platform?.architecture === "amd64");
        const child = amd && this.manifests.get(repo)?.get(amd.digest);
        if (child) m = child;
      }
    }
    res.setHeader("content-type", m.mediaType);
    res.setHeader("content-length", String(m.bytes.byteLength));
    res.setHeader("docker-content-digest", sha256(m.bytes));
    res.statusCode = 200;
    res.end(req.method === "HEAD" ? undefined : m.bytes);
  }

  private tags(res: ServerResponse, url: URL, repo: string): void {
    const all = [...(this.manifests.get(repo)?.keys() ?? [])].filter((t) => !t.startsWith("sha256:")).sort();
    const n = Math.min(Number(url.searchParams.get("n") ?? all.length) || all.length, this.opts.tagPageSize ?? Number.POSITIVE_INFINITY);
    const last = url.searchParams.get("last");
    const from = last ? all.findIndex((t) => t > last) : 0;
    const page = from < 0 ? [] : all.slice(from, from + n);
    if (from >= 0 && from + n < all.length) {
      res.setHeader("link", `</v2/${repo}/tags/list?n=${n}&last=${page[page.length - 1]}>; rel="next"`);
    }
    send(res, 200, { name: repo, tags: page });
  }

  /** Lists a manifest with a `subject` under it; returns the subject digest (for `OCI-Subject`). */
  private recordReferrer(repo: string, body: Buffer, mediaType: string): string | undefined {
    let m: { subject?: { digest?: string }; artifactType?: string; config?: { mediaType?: string }; annotations?: Record<string, string> };
    try {
      m = JSON.parse(body.toString("utf8"));
    } catch {
      return undefined;
    }
    const subject = m.subject?.digest;
    if (!subject) return undefined;
    const artifactType = m.artifactType ?? m.config?.mediaType;
    const entry: ReferrerEntry = {
      mediaType,
      digest: sha256(body),
      size: body.byteLength,
      ...(artifactType ? { artifactType } : {}),
      ...(m.annotations ? { annotations: m.annotations } : {}),
    };
    const bySubject = this.referrers.get(repo) ?? new Map<string, Map<string, ReferrerEntry>>();
    const list = bySubject.get(subject) ?? new Map<string, ReferrerEntry>();
    list.set(entry.digest, entry);
    bySubject.set(subject, list);
    this.referrers.set(repo, bySubject);
    return subject;
  }

  /** `GET /v2/<repo>/referrers/<digest>[?artifactType=]`: an OCI index, empty for an unknown subject; `?page=` follows `Link`. */
  private referrersPage(res: ServerResponse, url: URL, repo: string, subject: string): void {
    if (!this.opts.referrers) {
      res.statusCode = 404; // distribution 2.8 has no such route: its router's plain-text 404
      res.setHeader("content-type", "text/plain; charset=utf-8");
      res.end("404 page not found\n");
      return;
    }
    const type = url.searchParams.get("artifactType");
    const all = [...(this.referrers.get(repo)?.get(subject)?.values() ?? [])].filter((e) => !type || e.artifactType === type);
    const size = this.opts.referrersPageSize ?? Math.max(all.length, 1);
    const page = Number(url.searchParams.get("page") ?? "0");
    if (type) res.setHeader("oci-filters-applied", "artifactType");
    if ((page + 1) * size < all.length) {
      const q = new URLSearchParams({ ...(type ? { artifactType: type } : {}), page: String(page + 1) });
      res.setHeader("link", `</v2/${repo}/referrers/${subject}?${q}>; rel="next"`);
    }
    const b = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: all.slice(page * size, (page + 1) * size) }));
    res.statusCode = 200;
    res.setHeader("content-type", OCI_INDEX);
    res.setHeader("content-length", String(b.byteLength));
    res.end(b);
  }
}

export function send(res: ServerResponse, status: number, body: unknown): void {
  const b = Buffer.from(JSON.stringify(body));
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  res.setHeader("content-length", String(b.byteLength));
  res.end(b);
}

export function end(res: ServerResponse, status: number): void {
  res.statusCode = status;
  res.setHeader("content-length", "0");
  res.end();
}

/** Starts a fake registry and returns it; stop it in `after`. */
export async function startFakeRegistry(opts: FakeRegistryOptions = {}): Promise<FakeRegistry> {
  return new FakeRegistry(opts).start();
}
