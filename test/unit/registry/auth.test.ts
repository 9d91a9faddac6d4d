import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { RegistryClient } from "../../../lib/registry/client.ts";
import { staticCredentials } from "../../../lib/registry/credentials.ts";
import { type FakeRegistry, startFakeRegistry } from "../../fakes/registry.ts";
import { rejectsWithRegistryError } from "../../helpers/assert.ts";

const fakes: FakeRegistry[] = [];
const clients: RegistryClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(fakes.map((f) => f.stop()));
});
async function setup(opts: ConstructorParameters<typeof FakeRegistry>[0], clientOpts: Partial<ConstructorParameters<typeof RegistryClient>[0]> = {}) {
  const fake = await startFakeRegistry(opts);
  fakes.push(fake);
  const client = new RegistryClient({ host: fake.host, retry: { baseDelayMs: 5 }, ...clientOpts });
  clients.push(client);
  return { fake, client };
}
const tokenRequests = (f: FakeRegistry) => f.requests.filter((r) => r.url.startsWith("/token"));

describe("bearer auth (matrix cases 1–3)", () => {
  it("answers a relative realm with no service, behind a Negotiate challenge", async () => {
    const { fake, client } = await setup({ auth: { kind: "bearer", challenge: () => 'Negotiate, Bearer realm="/token"' } });
    fake.putBlob("a/b", Buffer.from("hello"));
    assert.equal(await client.blobHead("a/b", fake.putBlob("a/b", Buffer.from("hello"))), 5);
    const [t] = tokenRequests(fake);
    assert.ok(t, "token endpoint was asked");
    assert.ok(!t.url.includes("service="), "no service param when the challenge has none");
    assert.ok(t.url.includes("scope=repository%3Aa%2Fb%3Apull"));
  });

  it("accepts access_token only, without expires_in, with a future issued_at; caches per scope", async () => {
    const { fake, client } = await setup({
      auth: { kind: "bearer", token: () => ({ status: 200, body: { access_token: "$TOKEN", issued_at: "2099-01-01T00:00:00Z" } }) },
    });
    const d = fake.putBlob("x/y", Buffer.from("abc"));
    for (let i = 0; i < 3; i++) assert.equal(await client.blobHead("x/y", d), 3);
    assert.equal(tokenRequests(fake).length, 1, "one token for three requests in the same scope");
    await client.blobHead("x/z", d);
    assert.equal(tokenRequests(fake).length, 2, "another repository needs another token");
  });

  it("refreshes an expired token mid-copy, and before a request with a body", async () => {
    let now = Date.now();
    // a destination-side client asks for pull,push on every request: one scope throughout
    const { fake, client } = await setup(
      { auth: { kind: "bearer", token: () => ({ status: 200, body: { token: "$TOKEN", expires_in: 60 } }) } },
      { side: "destination" },
    );
    const d = fake.putBlob("r", Buffer.from("abc"));
    const realNow = Date.now;
    Date.now = () => now;
    try {
      await client.blobHead("r", d);
      assert.equal(tokenRequests(fake).length, 1);
      now += 40_000; // 20 s left: fine for a HEAD
      await client.blobHead("r", d);
      assert.equal(tokenRequests(fake).length, 1);
      // a body request needs more validity left: refreshed before sending, no 401 on the PUT
      await client.manifestPut(
        "r",
        "t",
        Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'),
        "application/vnd.oci.image.index.v1+json",
      );
      assert.equal(tokenRequests(fake).length, 2);
      assert.equal(fake.requests.filter((r) => r.method === "PUT").length, 1, "the PUT was sent once");
      now += 120_000; // expired
      await client.blobHead("r", d);
      assert.equal(tokenRequests(fake).length, 3);
    } finally {
      Date.now = realNow;
    }
  });

  it("retries once on 401 insufficient_scope with the scope the registry names", async () => {
    let first = true;
    const { fake, client } = await setup({
      auth: {
        kind: "bearer",
        // the first token is missing the repository the request needs
        grant: (s) => {
          if (!first) return s;
          first = false;
          return [];
        },
      },
    });
    const d = fake.putBlob("n", Buffer.from("abc"));
    assert.equal(await client.blobHead("n", d), 3);
    assert.equal(tokenRequests(fake).length, 2);
  });

  it("a token granting fewer actions than asked fails the push with a clear error, no loop (case 3)", async () => {
    const { fake, client } = await setup({
      auth: { kind: "bearer", grant: (s) => s.map((x) => x.replace(/pull,push|push/, "pull")) },
    });
    await rejectsWithRegistryError(client.manifestPut("ro", "t", Buffer.from("{}"), "application/vnd.oci.image.manifest.v1+json"), 401, "UNAUTHORIZED");
    // no ping: the first PUT discovers the challenge, then one try and one re-auth, then stop
    assert.equal(fake.count("PUT"), 3, "discovery + one try + one re-auth, then stop");
    assert.equal(tokenRequests(fake).length, 2);
  });

  it("asks for push scope first when mounting across repositories (case 4 scopes)", async () => {
    const { fake, client } = await setup({ auth: { kind: "bearer" } });
    const d = fake.putBlob("src/repo", Buffer.from("layer"));
    const r = await client.blobMount("dst/repo", "src/repo", d);
    assert.deepEqual(r, { mounted: true });
    const t = tokenRequests(fake).at(-1);
    const scopes = new URL(t?.url ?? "", fake.url).searchParams.getAll("scope");
    assert.deepEqual(scopes, ["repository:dst/repo:pull,push", "repository:src/repo:pull"]);
  });

  it("sends credentials to the token realm and Basic only to its own host", async () => {
    const { fake, client } = await setup(
      { auth: { kind: "bearer", username: "alice", password: "s3cret" } },
      { credentials: staticCredentials("alice", "s3cret") },
    );
    const d = fake.putBlob("p", Buffer.from("x"));
    assert.equal(await client.blobHead("p", d), 1);
    const bad = await setup({ auth: { kind: "bearer", username: "alice", password: "s3cret" } }, { credentials: staticCredentials("alice", "wrong") });
    bad.fake.putBlob("p", Buffer.from("x"));
    await assert.rejects(bad.client.blobHead("p", d), (e: Error & { code?: string }) => e.code === "AUTH");
  });
});

describe("basic auth", () => {
  it("uses Basic when challenged, and fails clearly without credentials", async () => {
    const { fake, client } = await setup({ auth: { kind: "basic", username: "u", password: "p" } }, { credentials: staticCredentials("u", "p") });
    const d = fake.putBlob("b", Buffer.from("zz"));
    assert.equal(await client.blobHead("b", d), 2);
    const anon = await setup({ auth: { kind: "basic", username: "u", password: "p" } });
    await rejectsWithRegistryError(anon.client.blobGet("b", { digest: d, size: 2 }), 401, "UNAUTHORIZED");
  });
});
