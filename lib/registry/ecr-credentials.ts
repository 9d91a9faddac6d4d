/**
 * ECR registries authenticate with a 12-hour token from `ecr:GetAuthorizationToken`
 * (base64 `AWS:<password>`), sent as Basic. The token source is injected (functions/ passes
 * the AWS SDK), so lib/registry stays SDK-free; tokens are cached per registry until 10 minutes
 * before they expire.
 */
import { FerryError } from "../errors.ts";
import type { Credential, CredentialProvider } from "./credentials.ts";
import { ecrRegistryOf } from "./host-profile.ts";

const REFRESH_MARGIN_MS = 10 * 60 * 1000;

/** What GetAuthorizationToken returns for one registry. */
export interface EcrToken {
  authorizationToken: string;
  expiresAt: Date;
}

/** Fetches a token for `accountId` in `region`. */
export type EcrTokenSource = (accountId: string, region: string) => Promise<EcrToken>;

/** Credentials for ECR hosts (undefined for any other host). */
export function ecrCredentials(source: EcrTokenSource, now: () => number = () => Date.now()): CredentialProvider {
  const cache = new Map<string, { cred: Credential; until: number }>();
  const inflight = new Map<string, Promise<Credential>>();
  return async (host) => {
    const ecr = ecrRegistryOf(host);
    if (!ecr) return undefined;
    const hit = cache.get(host);
    if (hit && hit.until > now()) return hit.cred;
    let p = inflight.get(host);
    if (!p) {
      p = source(ecr.accountId, ecr.region)
        .then((t) => {
          const decoded = Buffer.from(t.authorizationToken, "base64").toString("utf8");
          const i = decoded.indexOf(":");
          if (i < 0) throw new FerryError("CREDENTIALS", `${host}: ECR token is not base64 of USER:PASSWORD`);
          const cred: Credential = { kind: "basic", username: decoded.slice(0, i), password: decoded.slice(i + 1) };
          cache.set(host, { cred, until: t.expiresAt.getTime() - REFRESH_MARGIN_MS });
          return cred;
        })
        .finally(() => inflight.delete(host));
      inflight.set(host, p);
    }
    return p;
  };
}
