import assert from "node:assert/strict";
import { it } from "node:test";
import { ecrCredentials } from "../../../lib/registry/ecr-credentials.ts";

it("ECR hosts get Basic credentials from GetAuthorizationToken, cached until 10 minutes before expiry", async () => {
  let now = Date.parse("2026-11-22T00:00:00Z");
  const calls: string[] = [];
  const provider = ecrCredentials(
    async (account, region) => {
      calls.push(`${account}/${region}`);
      return { authorizationToken: Buffer.from(`AWS:pw-${calls.length}`).toString("base64"), expiresAt: new Date(now + 12 * 3600_000) };
    },
    () => now,
  );
  const host = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
  assert.deepEqual(await provider(host), { kind: "basic", username: "AWS", password: "pw-1" });
  await Promise.all([provider(host), provider(host)]);
  assert.deepEqual(calls, ["123456789012/eu-west-1"], "cached, and concurrent callers share one request");
  now += 11.9 * 3600_000; // within 10 minutes of expiry
  assert.equal((await provider(host))?.kind === "basic" && (await provider(host)) !== undefined, true);
  assert.equal(calls.length, 2, "refreshed before expiry");
  assert.equal(await provider("ghcr.io"), undefined, "other hosts are not ECR's business");
});
