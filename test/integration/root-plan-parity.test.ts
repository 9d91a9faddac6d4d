/**
 * `ferry copy`'s engine and the pipeline decide alike: every case of the root-planning table
 * runs through both, from one real distribution registry into two destination repositories that
 * held the same thing before, and both must end with the same tag digest, the same verdict (up
 * to date, failed with a code) and the same warning.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FerryError } from "../../lib/errors.ts";
import type { LocalServer } from "../../lib/local/serve.ts";
import { parsePlatform } from "../../lib/oci/platform.ts";
import { copyImage } from "../../lib/replicate/copy.ts";
import { RegistryStore } from "../../lib/replicate/registry-store.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import { type Distribution, startDistribution } from "../helpers/distribution.ts";
import { pushImage } from "../helpers/images.ts";
import { api, startFerry, waitForJob, writeConfig } from "../helpers/pipeline.ts";
import { rootPlanCases } from "../helpers/root-plan-cases.ts";

let reg: Distribution;
let ferry: LocalServer;
let dir: string;
let client: RegistryClient;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-parity-"));
  reg = await startDistribution();
  client = new RegistryClient({ host: reg.host });
  const config = await writeConfig(
    join(dir, "ferry.yml"),
    "version: 1\napi: { token: test-token, allow: [{ source: '127.0.0.1:*/**', destinations: ['127.0.0.1:*/**'] }] }\npipeline: { visibilityTimeout: 2, maxReceiveCount: 2 }\n",
  );
  ferry = await startFerry(config, { dataDir: false });
});
after(async () => {
  await ferry?.stop();
  await client?.close();
  await reg?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("CLI and pipeline: the same decision for the same inputs", () => {
  rootPlanCases("parity").forEach((c, i) => {
    it(c.name, async () => {
      await pushImage(client, `src/c${i}`, "v1", c.source);
      if (c.before) await Promise.all([pushImage(client, `cli/c${i}`, "v1", c.before), pushImage(client, `pipe/c${i}`, "v1", c.before)]);
      const platforms = c.platforms?.map(parsePlatform);
      const cli = await copyImage(new RegistryStore(client, `src/c${i}`), "v1", new RegistryStore(client, `cli/c${i}`), "v1", {
        ...(platforms ? { platforms } : {}),
        ...(c.merge ? { merge: true } : {}),
      }).catch((e: unknown) => e as Error);
      const posted = await api(ferry.url, "POST", "/replications", {
        source: `${reg.host}/src/c${i}:v1`,
        destinations: [`${reg.host}/pipe/c${i}`],
        ...(c.platforms ? { platforms: c.platforms } : {}),
        ...(c.merge ? { merge: true } : {}),
      });
      assert.equal(posted.status, 202);
      const job = await waitForJob(ferry.url, String(posted.body.id));
      if ("error" in c.expect) {
        assert.ok(cli instanceof FerryError);
        assert.equal(cli.code, c.expect.error);
        assert.equal(job.status, "failed");
        assert.equal((job.error as { code: string }).code, c.expect.error);
        return;
      }
      if (cli instanceof Error) throw cli;
      const [viaCli, viaPipeline] = await Promise.all([client.manifestHead(`cli/c${i}`, "v1"), client.manifestHead(`pipe/c${i}`, "v1")]);
      assert.ok(viaCli && viaPipeline);
      assert.equal(viaPipeline.digest, viaCli.digest);
      assert.equal(cli.digest, viaCli.digest);
      assert.equal(cli.upToDate, c.expect.upToDate);
      assert.equal(job.status, c.expect.upToDate ? "skipped" : "succeeded");
      const warnings = ((job.result as { warnings?: string[] } | undefined)?.warnings ?? []).join("\n");
      if (c.expect.warning) {
        assert.match(cli.warnings.join("\n"), c.expect.warning);
        assert.match(warnings, c.expect.warning);
      } else {
        assert.deepEqual(cli.warnings, []);
        assert.equal(warnings, "");
      }
    });
  });
});
