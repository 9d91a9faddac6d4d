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
  body: unknown;
}
