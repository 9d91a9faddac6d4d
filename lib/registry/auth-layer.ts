/** Auth layers: `reauthLayer` answers a 401 once per request (learn the challenge, or refetch credentials); `authorizeLayer` sends credentials only to the registry's own host. */
import type { Side } from "../errors.ts";
import { type Authenticator, missingScopes, repositoryScope } from "./auth.ts";
import { parseChallenges, pickChallenge } from "./challenge.ts";
import { untilAborted } from "./deadline.ts";
import type { Layer, RegistryRequest, RequestAuth } from "./exchange.ts";
import { drain } from "./transport.ts";

/** The auth needs of a request: its repository's scope (push on the destination side) and any extra. */
export function requestAuth(r: RegistryRequest, side: Side | undefined): RequestAuth {
  const scopes: string[] = [];
  if (r.repo) scopes.push(repositoryScope(r.repo, r.push === true || side === "destination"));
  if (r.extraScopes) scopes.push(...r.extraScopes);
  const forBody = r.stream !== undefined || (r.body !== undefined && r.body.length > 0);
  return { scopes, forBody, learned: false, refreshed: false };
}

/**
 * Answers a 401 to a replayable request: sent without credentials, it teaches the challenge (no
 * ping needed); sent with them, the token was expired or too narrow (or a Basic password was
 * rotated): learn the challenge again, forget the token, and try once more. Any other 401 is
 * returned as it is, for the error layer.
 */
export function reauthLayer(auth: Authenticator): Layer {
  return (next) => async (req) => {
    const a = req.auth;
    if (!a) return next(req);
    for (;;) {
      const res = await next(req);
      if (res.status !== 401 || req.stream !== undefined) return res;
      const c = pickChallenge(parseChallenges(res.headers["www-authenticate"]));
      if (!res.sentCredentials && c && !a.learned) {
        // Several first requests may race; those answered after another learned the challenge
        // must not discard the token it fetched.
        a.learned = true;
        if (auth.scheme === undefined) auth.setChallenge(c);
        await drain(res.body);
        continue;
      }
      if (auth.scheme === undefined || a.refreshed) return res;
      a.refreshed = true;
      await drain(res.body);
      // The challenge may name a scope the request lacks.
      a.scopes.unshift(...missingScopes(a.scopes, c?.params.scope));
      if (c) auth.setChallenge(c);
      auth.invalidate(a.scopes);
      // Basic credentials refused: they may have been rotated; read them again once.
      if (auth.scheme === "basic") auth.refreshCredential();
    }
  };
}

/** Adds the Authorization header to requests for `host` (by URL host, so not to a redirect or upload target elsewhere). */
export function authorizeLayer(auth: Authenticator, host: string): Layer {
  return (next) => async (req) => {
    if (!req.auth || req.url.host !== host) return next(req);
    const opts = { forBody: req.auth.forBody, ...(req.signal ? { signal: req.signal } : {}) };
    const value = await untilAborted(auth.authorization(req.auth.scopes, opts), req.signal);
    return next(value ? { ...req, headers: { ...req.headers, authorization: value } } : req);
  };
}
