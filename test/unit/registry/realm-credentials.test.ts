/**
 * Credentials go only where they belong: a token realm on the registry's own host name gets them;
 * one on another host only when the host profile (Docker Hub's auth.docker.io) or the config
 * names it; any other realm is asked for an anonymous token.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { Authenticator } from "../../../lib/registry/auth.ts";
import { staticCredentials } from "../../../lib/registry/credentials.ts";
import { profileFor } from "../../../lib/registry/host-profile.ts";

/** An authenticator whose token fetch records what it was sent (the token endpoint's side of the wire). */
function authFor(host: string, realm: string, realmHosts?: readonly string[]) {
  const sent: Array<{ url: string; authorization: string | undefined }> = [];
  const auth = new Authenticator({
    host,
    credentials: staticCredentials("alice", "s3cret"),
    ...(realmHosts ? { realmHosts } : {}),
    fetchToken: async (url, init) => {
      sent.push({ url: String(url), authorization: init.headers?.authorization });
      return { status: 200, text: JSON.stringify({ token: "t", expires_in: 300 }) };
    },
  });
  auth.setChallenge({ scheme: "bearer", params: { realm, service: "s" } });
  return { auth, sent };
}

it("a realm on the registry's own host name (any port) gets the credentials", async () => {
  const { auth, sent } = authFor("registry.example.com", "https://registry.example.com:8443/token");
  await auth.authorization(["repository:a:pull"]);
  assert.match(sent[0]?.authorization ?? "", /^Basic /);
});

it("a realm on an unknown host gets no credentials: an anonymous token request", async () => {
  const { auth, sent } = authFor("registry.example.com", "https://auth.elsewhere.example/token");
  assert.equal(await auth.authorization(["repository:a:pull"]), "Bearer t");
  assert.equal(sent.length, 1);
  assert.equal(sent[0]?.authorization, undefined);
});

it("Docker Hub's known realm (auth.docker.io, from its host profile) gets them; so does a realm the config names", async () => {
  const hub = authFor("registry-1.docker.io", "https://auth.docker.io/token", profileFor("registry-1.docker.io").realmHosts);
  await hub.auth.authorization(["repository:library/alpine:pull"]);
  assert.match(hub.sent[0]?.authorization ?? "", /^Basic /);
  const gitlab = authFor("registry.gitlab.example.com", "https://gitlab.example.com/jwt/auth", ["gitlab.example.com"]);
  await gitlab.auth.authorization(["repository:g/app:pull"]);
  assert.match(gitlab.sent[0]?.authorization ?? "", /^Basic /);
  // the profile of another host does not carry Docker Hub's realm
  assert.equal(profileFor("ghcr.io").realmHosts, undefined);
});
