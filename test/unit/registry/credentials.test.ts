import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { chainCredentials, dockerConfigCredentials, parseUserPass, staticCredentials } from "../../../lib/registry/credentials.ts";
import { rejectsWithCode } from "../../helpers/assert.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-creds-"));
  // a fake docker-credential helper on PATH, speaking the helper protocol
  await writeFile(
    join(dir, "docker-credential-fake"),
    `#!/bin/sh\nread host\nif [ "$host" = "helped.example.com" ]; then echo '{"ServerURL":"helped.example.com","Username":"hu","Secret":"hs"}'; exit 0; fi\nif [ "$host" = "token.example.com" ]; then echo '{"Username":"<token>","Secret":"refresh-xyz"}'; exit 0; fi\nif [ "$host" = "broken.example.com" ]; then echo "keychain locked" >&2; exit 1; fi\necho "credentials not found in native keychain"; exit 1\n`,
  );
  await chmod(join(dir, "docker-credential-fake"), 0o755);
  process.env.PATH = `${dir}:${process.env.PATH}`;
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("credentials", () => {
  it("reads auths with base64 auth, username/password, identitytoken, and Docker Hub's URL key", async () => {
    const file = join(dir, "config.json");
    await writeFile(
      file,
      JSON.stringify({
        auths: {
          "https://index.docker.io/v1/": { auth: b64("hubuser:hub:pass") },
          "ghcr.io": { username: "gh", password: "ghp_x" },
          "https://acr.example.io": { auth: b64("00000000-0000-0000-0000-000000000000:"), identitytoken: "idtok" },
          "127.0.0.1:5000": { auth: b64("local:pw") },
        },
      }),
    );
    const p = dockerConfigCredentials({ files: [file] });
    assert.deepEqual(await p("registry-1.docker.io"), { kind: "basic", username: "hubuser", password: "hub:pass" });
    assert.deepEqual(await p("ghcr.io"), { kind: "basic", username: "gh", password: "ghp_x" });
    assert.deepEqual(await p("acr.example.io"), { kind: "identity-token", identityToken: "idtok", username: "00000000-0000-0000-0000-000000000000" });
    assert.deepEqual(await p("127.0.0.1:5000"), { kind: "basic", username: "local", password: "pw" });
    assert.equal(await p("quay.io"), undefined);
  });

  it("uses credHelpers per host and credsStore for the rest", async () => {
    const file = join(dir, "helpers.json");
    await writeFile(file, JSON.stringify({ credHelpers: { "helped.example.com": "fake", "token.example.com": "fake" }, credsStore: "fake", auths: {} }));
    const p = dockerConfigCredentials({ files: [file] });
    assert.deepEqual(await p("helped.example.com"), { kind: "basic", username: "hu", password: "hs" });
    assert.deepEqual(await p("token.example.com"), { kind: "identity-token", identityToken: "refresh-xyz" });
    assert.equal(await p("unknown.example.com"), undefined, "a store without an entry means anonymous");
    await rejectsWithCode(p("broken.example.com"), "CREDENTIALS"); // any other failure of the helper is one
  });

  it("reads REGISTRY_AUTH_FILE first, skips missing files, and rejects malformed ones", async () => {
    const file = join(dir, "auth.json");
    await writeFile(file, JSON.stringify({ auths: { "quay.io": { auth: b64("q:p") } } }));
    const p = dockerConfigCredentials({ env: { REGISTRY_AUTH_FILE: file, DOCKER_CONFIG: join(dir, "nowhere") } });
    assert.deepEqual(await p("quay.io"), { kind: "basic", username: "q", password: "p" });
    const bad = join(dir, "bad.json");
    await writeFile(bad, "{not json");
    await rejectsWithCode(dockerConfigCredentials({ files: [bad] })("x.io"), "CREDENTIALS");
    const helperFails = join(dir, "h2.json");
    await writeFile(helperFails, JSON.stringify({ credHelpers: { "x.io": "missing-helper" } }));
    await rejectsWithCode(dockerConfigCredentials({ files: [helperFails] })("x.io"), "CREDENTIALS");
  });

  it("chains providers and parses USER:PASS", async () => {
    const p = chainCredentials(async () => undefined, staticCredentials("a", "b"));
    assert.deepEqual(await p("any"), { kind: "basic", username: "a", password: "b" });
    assert.deepEqual(parseUserPass("u:p:q"), { kind: "basic", username: "u", password: "p:q" });
    assert.throws(() => parseUserPass("nocolon"));
  });
});
