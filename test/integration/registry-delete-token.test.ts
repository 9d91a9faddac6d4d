/**
 * Deleting a manifest on a registry behind token auth (distribution 2.8 with the fixture token
 * server): a DELETE needs the `delete` action, which the pull,push token a push left cached does
 * not carry. The registry's challenge names it; ferry asks for it once (one more token), and a
 * user the token server does not allow to delete gets the registry's 401, not a retry loop.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RegistryClient } from "../../lib/registry/client.ts";
import { staticCredentials } from "../../lib/registry/credentials.ts";
import { rejectsWithRegistryError } from "../helpers/assert.ts";
import { type Distribution, startDistribution } from "../helpers/distribution.ts";
import { pushImage, randomImage } from "../helpers/images.ts";

describe("manifest DELETE behind token auth", () => {
  let reg: Distribution;
  before(async () => {
    reg = await startDistribution({
      auth: "token",
      users: { alice: "wonderland", bob: "builder" },
      acl: (user) => (user === "alice" ? ["pull", "push", "delete"] : user === "bob" ? ["pull", "push"] : []),
    });
  });
  after(() => reg.stop());

  it("asks for the delete action the challenge names and removes the manifest", async () => {
    const c = new RegistryClient({ host: reg.host, side: "destination", credentials: staticCredentials("alice", "wonderland") });
    const image = randomImage({ layers: 1, seed: "delete-token" });
    await pushImage(c, "team/app", "v1", image);
    const ts = reg.tokenServer;
    assert.ok(ts);
    const before = ts.requests.length;
    await c.manifestDelete("team/app", image.digest);
    assert.equal(await c.manifestHead("team/app", "v1"), undefined);
    const asked = ts.requests.slice(before).flatMap((r) => r.scopes);
    assert.ok(
      asked.some((s) => s.startsWith("repository:team/app:") && s.split(":").pop()?.split(",").includes("delete")),
      `scopes asked: ${asked.join(" ")}`,
    );
    assert.equal(ts.requests.length - before, 1, "one token for the delete");
    await c.close();
  });

  it("a user without the delete action is refused with a code", async () => {
    const c = new RegistryClient({ host: reg.host, side: "destination", credentials: staticCredentials("bob", "builder") });
    const image = randomImage({ layers: 1, seed: "delete-token-bob" });
    await pushImage(c, "team/tool", "v1", image);
    await rejectsWithRegistryError(c.manifestDelete("team/tool", image.digest), 401, "UNAUTHORIZED");
    assert.equal((await c.manifestHead("team/tool", "v1"))?.digest, image.digest);
    await c.close();
  });
});
