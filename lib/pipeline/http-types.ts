/** The HTTP shapes the API and webhook routes speak, whatever serves them (API Gateway, ferry serve). */
export interface HttpRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Lowercase names. */
  headers: Record<string, string>;
  body: Buffer;
}

export interface HttpResponse {
  status: number;
  /** Sent as JSON, unless `text` is set. */
  body: unknown;
  /** A body sent as it is (the status page's HTML, CSS and script), with its content-type in `headers`. */
  text?: string;
  /** Lowercase names; `content-type` defaults to application/json. */
  headers?: Record<string, string>;
}
