/** A loopback registry that refuses connections fails as NETWORK on the client's side, retryable: never a raw socket error. */
import assert from "node:assert/strict";
import { it } from "node:test";
import { FerryError } from "../../../lib/errors.ts";
import { RegistryClient } from "../../../lib/registry/client.ts";
import { freePort } from "../../helpers/distribution.ts";

it("a refused scheme probe is a NETWORK error with the client's side", async () => {
  const port = await freePort(); // nothing listens there
  const client = new RegistryClient({ host: `127.0.0.1:${port}`, side: "source", retry: { maxAttempts: 1 } });
  await assert.rejects(client.manifestHead("app", "v1"), (e: unknown) => e instanceof FerryError && e.code === "NETWORK" && e.side === "source" && e.retryable);
  await client.close();
});
