import assert from "node:assert/strict";
import { it } from "node:test";
import { fakeHarness } from "../../helpers/fake-setup.ts";

const h = fakeHarness();

it("concurrent first requests learn the challenge once and share one token", async () => {
  let unauthenticated = 0;
  const { fake, client } = await h.setup(
    {
      auth: { kind: "bearer" },
      // Stagger the 401s to credential-less requests: the later ones arrive after the first
      // request has already learned the challenge and fetched a token.
      hook: async (req) => {
        if (!req.headers.authorization && req.url?.startsWith("/v2/race")) await new Promise((r) => setTimeout(r, 40 * unauthenticated++));
        return false;
      },
    },
    { side: "destination" },
  );
  const digests = Array.from({ length: 6 }, (_, i) => fake.putBlob("race/app", Buffer.from(`blob ${i}`)));
  await Promise.all(digests.map((d) => client.blobHead("race/app", d)));
  const tokens = fake.requests.filter((r) => r.url.startsWith("/token")).length;
  assert.equal(tokens, 1, `one token for one scope, got ${tokens}`);
});
