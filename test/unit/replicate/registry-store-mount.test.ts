/** Mounting from a known location: a refused token for the other repository is a refused mount, not a failed copy; other errors still fail. */
import assert from "node:assert/strict";
import { it } from "node:test";
import { FerryError } from "../../../lib/errors.ts";
import { BlobLocations } from "../../../lib/registry/blob-locations.ts";
import type { RegistryClient } from "../../../lib/registry/client.ts";
import { RegistryStore } from "../../../lib/replicate/registry-store.ts";

const D = `sha256:${"a".repeat(64)}`;

function storeWith(mount: () => Promise<{ mounted: boolean }>) {
  const blobLocations = new BlobLocations();
  const calls: string[] = [];
  const client = {
    host: "registry.test",
    blobLocations,
    blobMount: (repo: string, from: string) => {
      calls.push(`${repo} <- ${from}`);
      return mount();
    },
  } as unknown as RegistryClient;
  return { store: new RegistryStore(client, "two"), blobLocations, calls };
}

it("knows nothing: no request", async () => {
  const { store, calls } = storeWith(async () => ({ mounted: true }));
  assert.equal(await store.blobMountKnown(D), undefined);
  assert.deepEqual(calls, []);
});

it("mounts from the repository last noted, and notes the new one", async () => {
  const { store, blobLocations, calls } = storeWith(async () => ({ mounted: true }));
  blobLocations.note(D, "one");
  assert.deepEqual(await store.blobMountKnown(D), { mounted: true });
  assert.deepEqual(calls, ["two <- one"]);
  assert.equal(blobLocations.get(D), "two");
});

it("a token refused for the other repository (AUTH) is a refused mount: the entry goes, the copy goes on", async () => {
  const { store, blobLocations } = storeWith(async () => {
    throw new FerryError("AUTH", "registry.test: token request to auth.test failed with HTTP 403");
  });
  blobLocations.note(D, "one");
  assert.deepEqual(await store.blobMountKnown(D), { mounted: false });
  assert.equal(blobLocations.get(D), undefined);
});

it("any other failure is the copy's failure", async () => {
  const { store, blobLocations } = storeWith(async () => {
    throw new FerryError("NETWORK", "connection reset", { retryable: true });
  });
  blobLocations.note(D, "one");
  await assert.rejects(store.blobMountKnown(D), (e: unknown) => e instanceof FerryError && e.code === "NETWORK");
});
