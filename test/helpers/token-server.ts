/**
 * A token server fixture implementing the Docker token spec (distribution docs/spec/auth/token.md):
 * `GET /token?service=&scope=…` with Basic credentials → a JWT (RS256, `x5c` = the certificate the
 * registry trusts) granting the intersection of what was asked and what the ACL allows.
 */
import { createPrivateKey, createSign, randomUUID, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface TokenServerOptions {
  keyFile: string;
  certFile: string;
  service: string;
  issuer: string;
  /** username → password. */
  users: Record<string, string>;
  /** Actions `user` (undefined = anonymous) may take on `repo`. Default: all for known users. */
  acl?: (user: string | undefined, repo: string) => string[];
}

export interface TokenServer {
  url: string;
  /** Every scope asked for, in order (for asserting what clients request). */
  requests: Array<{ user: string | undefined; scopes: string[]; service: string | null }>;
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const key = createPrivateKey(readFileSync(opts.keyFile));
  const der = new X509Certificate(readFileSync(opts.certFile)).raw;
  const requests: TokenServer["requests"] = [];
  const acl = opts.acl ?? ((user) => (user ? ["pull", "push", "delete"] : []));
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    let user: string | undefined;
    const auth = req.headers.authorization;
    if (auth?.startsWith("Basic ")) {
      const [u, ...rest] = Buffer.from(auth.slice(6), "base64").toString().split(":");
      if (!u || opts.users[u] !== rest.join(":")) {
        res.writeHead(401, { "content-type": "application/json" });
        res.end(JSON.stringify({ details: "incorrect username or password" }));
        return;
      }
      user = u;
    }
    const scopes = url.searchParams
      .getAll("scope")
      .flatMap((s) => s.split(" "))
      .filter(Boolean);
    requests.push({ user, scopes, service: url.searchParams.get("service") });
    const access = scopes.flatMap((s) => {
      const first = s.indexOf(":");
      const last = s.lastIndexOf(":");
      const [type, name, actions] = [s.slice(0, first), s.slice(first + 1, last), s.slice(last + 1).split(",")];
      const allowed = acl(user, name);
      const granted = actions.filter((a) => allowed.includes(a));
      return granted.length ? [{ type, name, actions: granted }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: "RS256", typ: "JWT", x5c: [der.toString("base64")] };
    const claims = { iss: opts.issuer, sub: user ?? "", aud: opts.service, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign("RSA-SHA256").update(signingInput).sign(key);
    const token = `${signingInput}.${b64url(sig)}`;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`,
    requests,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
