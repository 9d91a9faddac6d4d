/**
 * AWS Signature Version 4 for `ferry jobs` against the API on AWS, whose `/replications` routes
 * use API Gateway's IAM authorizer: each request is signed for the service `execute-api` in the
 * API's region, with credentials from the SDK's standard chain (environment, SSO, shared files,
 * web identity, container and instance roles). The algorithm is @smithy/signature-v4's (the
 * SDK's own), hashed with node:crypto.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 */
import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { SignatureV4 } from "@smithy/signature-v4";
import { FerryError } from "../errors.ts";

type Data = string | ArrayBuffer | ArrayBufferView;

const toBuffer = (d: Data): Buffer =>
  typeof d === "string" ? Buffer.from(d, "utf8") : ArrayBuffer.isView(d) ? Buffer.from(d.buffer, d.byteOffset, d.byteLength) : Buffer.from(d);

/** SHA-256, or HMAC-SHA256 when constructed with a key, in the shape the signer calls. */
class NodeSha256 {
  private hash: Hash | Hmac;
  constructor(private readonly key?: Data) {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.key === undefined ? createHash("sha256") : createHmac("sha256", toBuffer(this.key));
  }
  update(data: Data): void {
    this.hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

/** AWS credentials as the SDK's providers return them. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

const EXECUTE_API = /^[a-z0-9]+\.execute-api\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(?:\.cn)?$/;

/** The region in an API Gateway default host (`abc123.execute-api.eu-west-1.amazonaws.com`), else undefined. */
export function executeApiRegion(host: string): string | undefined {
  return EXECUTE_API.exec(host.toLowerCase())?.[1];
}

/** Signs one request: returns the headers to send (the given ones plus authorization, x-amz-date, the body's hash, the session token). */
export type RequestSigner = (method: string, url: URL, headers: Record<string, string>, body?: string) => Promise<Record<string, string>>;

/**
 * A signer for API Gateway in `region`. Credentials come from `credentials` (default: the SDK's
 * chain, which keeps them and refreshes them before they expire, so a long `watch` keeps signing);
 * none found is a CREDENTIALS error. The `host` header is signed as `url.host`, which is what fetch
 * sends, and left out of the returned headers (fetch sets it).
 */
export function executeApiSigner(region: string, credentials: () => Promise<AwsCredentials> = defaultProvider()): RequestSigner {
  const creds = () =>
    credentials().catch((e: unknown) => {
      throw new FerryError(
        "CREDENTIALS",
        `no AWS credentials to sign the request with (${(e as Error).message}); set AWS_PROFILE, run 'aws sso login', or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY`,
        { cause: e },
      );
    });
  const signer = new SignatureV4({ service: "execute-api", region, credentials: creds, sha256: NodeSha256 });
  return async (method, url, headers, body) => {
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of url.searchParams) {
      const had = query[k];
      query[k] = had === undefined ? v : [...(Array.isArray(had) ? had : [had]), v];
    }
    const signed = await signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query,
      headers: { ...headers, host: url.host },
      ...(body === undefined ? {} : { body }),
    });
    const { host: _host, ...out } = signed.headers;
    return out;
  };
}
