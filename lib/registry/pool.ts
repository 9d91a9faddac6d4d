/**
 * Registry clients per host and side, built from per-host settings (plain HTTP, CA file,
 * insecure, credentials, upload mode, stall guards) and sharing one connection pool per host.
 */
import type { Agent } from "undici";
import type { Side } from "../errors.ts";
import { RegistryClient, type RegistryClientOptions, type UploadMode } from "./client.ts";
import { type CredentialProvider, chainCredentials, dockerConfigCredentials } from "./credentials.ts";
import { RateBudget, type RequestBudget } from "./rate.ts";
import type { TransferSettings } from "./stall.ts";
import type { ProfileName } from "./host-profile.ts";
import { createAgent } from "./transport.ts";

/** Settings for one registry host. */
export interface HostSettings {
  plainHttp?: boolean;
  insecure?: boolean;
  caFile?: string;
  credentials?: CredentialProvider;
  uploadMode?: UploadMode;
  /** The host's quirks by name, when its name does not say (GHCR or ECR behind a domain of your own). */
  profile?: ProfileName;
  /** Token realm hosts that may receive this registry's credentials (besides its own and its profile's). */
  tokenRealms?: string[];
  chunkSize?: number;
  maxConnectionsPerHost?: number;
  /** Requests per second to this host (both sides together). */
  requestsPerSecond?: number;
  /** Stall guards on this host's reads (`stallTimeout`, `speedLimit`, `speedTime`); see stall.ts. */
  transfer?: Partial<TransferSettings>;
}

export interface RegistryPoolOptions {
  /** Settings by `host[:port]`. */
  hosts?: Record<string, HostSettings>;
  /** Settings for every host not listed (CA file, insecure…). */
  defaults?: HostSettings;
  /** Credentials for hosts without their own: docker config unless `false`. */
  authFile?: string | false;
  /** Tried for every host after its own settings (e.g. ECR tokens on AWS). */
  defaultCredentials?: CredentialProvider;
  retry?: RegistryClientOptions["retry"];
  /** The budget of a host with `requestsPerSecond` (default: a token bucket in this process; a shared one across workers). */
  budgetFor?: (host: string, perSecond: number) => RequestBudget;
}

export class RegistryPool {
  private readonly opts: RegistryPoolOptions;
  private readonly agents = new Map<string, Agent>();
  private readonly clients = new Map<string, RegistryClient>();
  private readonly budgets = new Map<string, RequestBudget>();
  private readonly fallbackCreds: CredentialProvider | undefined;

  constructor(opts: RegistryPoolOptions = {}) {
    this.opts = opts;
    this.fallbackCreds = opts.authFile === false ? undefined : dockerConfigCredentials(opts.authFile ? { files: [opts.authFile] } : {});
  }

  /**
   * The client for `host` on `side` (created once). `credentials` (e.g. `--src-creds`) take
   * precedence over the host's settings and the docker config for this side only.
   */
  client(host: string, side: Side, credentials?: CredentialProvider): RegistryClient {
    const key = `${side} ${host}`;
    let c = this.clients.get(key);
    if (c) return c;
    const s = { ...this.opts.defaults, ...this.opts.hosts?.[host] };
    let agent = this.agents.get(host);
    if (!agent) {
      agent = createAgent(s);
      this.agents.set(host, agent);
    }
    let budget = this.budgets.get(host);
    if (!budget && s.requestsPerSecond) {
      budget = this.opts.budgetFor ? this.opts.budgetFor(host, s.requestsPerSecond) : new RateBudget(s.requestsPerSecond);
      this.budgets.set(host, budget);
    }
    c = new RegistryClient({
      host,
      side,
      agent,
      ...s,
      ...(budget ? { rateBudget: budget } : {}),
      credentials: chainCredentials(credentials, s.credentials, this.opts.defaultCredentials, this.fallbackCreds),
      ...(this.opts.retry ? { retry: this.opts.retry } : {}),
    });
    this.clients.set(key, c);
    return c;
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.close()));
  }
}
