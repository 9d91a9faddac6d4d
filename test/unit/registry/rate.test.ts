import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseConfig } from "../../../lib/config.ts";
import { poolFromConfig } from "../../../lib/pipeline/registries.ts";
import { fakeHarness } from "../../helpers/fake-setup.ts";

const h = fakeHarness();

describe("per-registry settings from the config", () => {
  it("a request budget spaces requests out (Docker Hub's pull limits)", async () => {
    const { fake } = await h.setup();
    const pool = poolFromConfig(parseConfig({ version: 1, registries: [{ host: fake.host, requestsPerSecond: 20 }] }));
    h.onClose(() => pool.close());
    const c = pool.client(fake.host, "source");
    const d = fake.putBlob("r", Buffer.from("x"));
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 40 }, () => c.blobHead("r", d)));
    // 20 in the first burst, then 20 more at 20/s: about a second; without a budget, milliseconds
    assert.ok(Date.now() - t0 >= 900, `took ${Date.now() - t0} ms`);
    assert.equal(fake.count("HEAD"), 40);
  });

  it("reads credentials from a password file and from a docker config", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ferry-cred-"));
    h.onClose(() => rm(dir, { recursive: true, force: true }));
    const a = await h.setup({ auth: { kind: "basic", username: "u", password: "from-file" } });
    const b = await h.setup({ auth: { kind: "basic", username: "v", password: "from-docker-config" } });
    await writeFile(join(dir, "pw"), "from-file\n");
    await writeFile(join(dir, "config.json"), JSON.stringify({ auths: { [b.fake.host]: { auth: Buffer.from("v:from-docker-config").toString("base64") } } }));
    const pool = poolFromConfig(
      parseConfig({
        version: 1,
        registries: [
          { host: a.fake.host, username: "u", passwordFile: join(dir, "pw") },
          { host: b.fake.host, dockerConfig: join(dir, "config.json") },
        ],
      }),
    );
    h.onClose(() => pool.close());
    const da = a.fake.putBlob("r", Buffer.from("a"));
    const db = b.fake.putBlob("r", Buffer.from("b"));
    assert.equal(await pool.client(a.fake.host, "source").blobHead("r", da), 1);
    assert.equal(await pool.client(b.fake.host, "source").blobHead("r", db), 1);
  });
});
