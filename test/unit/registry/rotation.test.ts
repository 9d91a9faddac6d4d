/**
 * A rotated registry secret is picked up without a restart: the client from the config reads a
 * password file lazily; when the registry refuses it (Basic 401, or the token endpoint's 401),
 * the file is read again, once, and the request goes through. A wrong secret still fails (AUTH).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { parseConfig } from "../../../lib/config.ts";
import { poolFromConfig } from "../../../lib/pipeline/registries.ts";
import { startFakeRegistry } from "../../fakes/registry.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-rotation-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

for (const kind of ["basic", "bearer"] as const) {
  it(`${kind}: a password rotated in its file and at the registry works on the next request; a wrong one fails`, async () => {
    const auth = { kind, username: "robot", password: "first" };
    const fake = await startFakeRegistry({ auth });
    const file = join(dir, `${kind}.pw`);
    await writeFile(file, "first\n");
    const pool = poolFromConfig(parseConfig({ version: 1, registries: [{ host: fake.host, username: "robot", passwordFile: file }] }), {});
    const client = pool.client(fake.host, "source");
    try {
      const d = fake.putBlob("app", Buffer.from("layer"));
      assert.equal(await client.blobHead("app", d), 5);
      // the secret rotates: the registry and the mounted file change together
      auth.password = "second";
      await writeFile(file, "second\n");
      const d2 = fake.putBlob("app2", Buffer.from("layer-2"));
      assert.equal(await client.blobHead("app2", d2), 7, "the refused password is read again, once");
      // a registry that wants something the file does not have still fails, with a code
      auth.password = "third";
      const d3 = fake.putBlob("app3", Buffer.from("x"));
      await assert.rejects(client.blobHead("app3", d3), (e: unknown) => ["AUTH", "REGISTRY"].includes((e as { code?: string }).code ?? ""));
    } finally {
      await pool.close();
      await fake.stop();
    }
  });
}
