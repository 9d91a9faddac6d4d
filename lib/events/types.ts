/** Webhook providers: verify a request on its exact bytes, then parse it into image events. */

/** A request as the HTTP front received it: raw body bytes, lowercase header names. */
export interface WebhookRequest {
  headers: Record<string, string>;
  query: Record<string, string>;
  body: Buffer;
}

/** A normalized push event. */
export interface ImageEvent {
  /** Registry host as the payload names it (a configured `registry` overrides it). */
  registry?: string;
  repository: string;
  tag?: string;
  digest?: string;
  mediaType?: string;
  eventTime: string;
  deliveryId: string;
}

/** Per-sender settings a verifier may need besides the secret (OIDC for Pub/Sub). */
export interface VerifyOptions {
  audience?: string;
  serviceAccount?: string;
  /** JWKS (`{"keys": [...]}`) trusted for OIDC tokens. */
  jwks?: { keys: Array<Record<string, unknown>> };
  now?: () => number;
}

/** A tag deleted at the source (a sender that says which tag went: deletions by digest alone give none). */
export interface TagDeleteEvent {
  /** Registry host as the payload names it (a configured `registry` overrides it). */
  registry?: string;
  repository: string;
  tag: string;
  eventTime: string;
  deliveryId: string;
}

export interface WebhookProvider {
  readonly name: string;
  /** True when the request proves it comes from the configured sender. */
  verify(req: WebhookRequest, secret: string | undefined, opts?: VerifyOptions): boolean;
  /** The push events worth replicating (pings, deletes, pulls and untagged children give none). */
  parse(req: WebhookRequest): ImageEvent[];
  /** The tag deletions in the delivery, for rules that propagate deletes; absent when the sender reports none ferry can parse with certainty. */
  parseDeletes?(req: WebhookRequest): TagDeleteEvent[];
}

/** The payload is not what this provider sends: a 400, naming the problem. */
export class BadPayloadError extends Error {
  override name = "BadPayloadError";
}
