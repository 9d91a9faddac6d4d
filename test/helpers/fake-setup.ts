/** Starts fake registries and clients for a test file and stops them all in `after`. */
import { after } from "node:test";
import { RegistryClient, type RegistryClientOptions } from "../../lib/registry/client.ts";
import { type FakeRegistry, type FakeRegistryOptions, startFakeRegistry } from "../fakes/registry.ts";

export function fakeHarness() {
  const fakes: FakeRegistry[] = [];
  const clients: RegistryClient[] = [];
  const closers: Array<() => Promise<void>> = [];
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(fakes.map((f) => f.stop()));
    await Promise.all(closers.map((c) => c()));
  });
  return {
    async setup(opts: FakeRegistryOptions = {}, clientOpts: Partial<RegistryClientOptions> = {}) {
      const fake = await startFakeRegistry(opts);
      fakes.push(fake);
      const client = new RegistryClient({ host: fake.host, retry: { baseDelayMs: 5 }, ...clientOpts });
      clients.push(client);
      return { fake, client };
    },
    onClose(fn: () => Promise<void>) {
      closers.push(fn);
    },
  };
}
