/**
 * Property-based: random and mutated bodies (correctly signed, so parsing is really exercised)
 * through the webhook route of every provider never crash or answer 5xx — always a 4xx, or a 2xx
 * whose queued requests are valid. Backed by dynalite and a recording queue.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { parseConfig } from "../../../lib/config.ts";
import { type HttpRequest, handleHttp } from "../../../lib/pipeline/http.ts";
import { silentLog, type PipelineDeps } from "../../../lib/pipeline/deps.ts";
import { validateRequest } from "../../../lib/pipeline/ingress.ts";
import { poolFromConfig } from "../../../lib/pipeline/registries.ts";
import type { AnyMessage } from "../../../lib/queue/messages.ts";
import { DynamoJobStore, ensureTable } from "../../../lib/state/dynamodb.ts";
import { type DynamoStandIn, startDynalite } from "../../helpers/dynamo.ts";
import { GAR_AUDIENCE, GAR_SA, oidc, resign, routeOf, SAMPLE_PROVIDERS, sample } from "../../helpers/webhook-samples.ts";

const SECRET = "prop-secret";
let ddb: DynamoStandIn;
let deps: PipelineDeps;
const sent: AnyMessage[] = [];

before(async () => {
  ddb = await startDynalite();
  await ensureTable(ddb.client, "props");
  const config = parseConfig({
    version: 1,
    webhooks: SAMPLE_PROVIDERS.filter((p) => p !== "harbor-ce").map((p) => ({
      provider: p,
      id: "p",
      ...(p === "gar" ? { audience: GAR_AUDIENCE, serviceAccount: GAR_SA, jwks: oidc.jwks } : { secret: SECRET }),
      ...(p === "nexus" ? { registry: "registry.example.com:5000" } : {}),
    })),
    rules: [
      {
        name: "all",
        source: ["registry.example.com:5000/**", "docker.io/**", "ghcr.io/**", "123456789012.dkr.ecr.us-west-2.amazonaws.com/**"],
        destinations: ["dst.example.com/{repo}"],
      },
    ],
  });
  deps = {
    config,
    store: new DynamoJobStore(ddb.client, { tableName: "props" }),
    queues: { send: async (_q, m) => void sent.push(...m), backlog: async () => 0, retryLater: async () => undefined },
    registries: poolFromConfig(config),
    log: silentLog,
  };
});
after(async () => {
  await ddb?.stop();
});

const imgFor = (p: string) => ({
  registry: p === "ecr" ? "123456789012.dkr.ecr.us-west-2.amazonaws.com" : "registry.example.com:5000",
  repository: "team/api",
  tag: "v1",
  digest: `sha256:${"b".repeat(64)}`,
  mediaType: "application/vnd.oci.image.index.v1+json",
});

/** Mutations of a JSON document: drop a key, replace a value with arbitrary JSON, or wrap it. */
const mutate = (doc: unknown) =>
  fc.oneof(
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.tuple(fc.nat(), fc.jsonValue()).map(([n, v]) => JSON.stringify(mutateAt(structuredClone(doc), n, v))),
    fc.tuple(fc.nat(), fc.constant(undefined)).map(([n]) => JSON.stringify(mutateAt(structuredClone(doc), n, undefined))),
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a).toString("latin1")),
  );

/** Replaces (or deletes) the n-th value in a depth-first walk of `doc`. */
function mutateAt(doc: unknown, n: number, value: unknown): unknown {
  let i = 0;
  const walk = (o: unknown): unknown => {
    if (typeof o !== "object" || o === null) return o;
    for (const k of Object.keys(o)) {
      const rec = o as Record<string, unknown>;
      if (i++ === n % 50) {
        if (value === undefined) delete rec[k];
        else rec[k] = value;
        return o;
      }
      walk(rec[k]);
    }
    return o;
  };
  walk(doc);
  return doc;
}

for (const p of SAMPLE_PROVIDERS) {
  describe(`webhook ${p} under random and mutated bodies`, () => {
    const img = imgFor(p);
    it("never crashes or answers 5xx; every 2xx queues only valid requests", async () => {
      const base = sample(p, "push", img, SECRET).req;
      let doc: unknown;
      try {
        doc = JSON.parse(base.body.toString("utf8"));
      } catch {
        doc = {};
      }
      await fc.assert(
        fc.asyncProperty(mutate(doc), async (text) => {
          const signed = resign(p, base, Buffer.from(text, "latin1"), SECRET);
          const req: HttpRequest = { method: "POST", path: `/webhooks/${routeOf(p)}/p`, query: signed.query, headers: signed.headers, body: signed.body };
          const before = sent.length;
          const res = await handleHttp(deps, req); // a throw fails the property
          assert.ok([200, 202, 400].includes(res.status), `status ${res.status}: ${JSON.stringify(res.body)}`);
          if (res.status !== 202) return;
          for (const m of sent.slice(before)) {
            const job = m.kind === "plan" ? await deps.store.getJob(m.jobId) : undefined;
            assert.ok(job, "a queued plan names a stored job");
            validateRequest(job.request);
          }
        }),
        { numRuns: Number(process.env.FERRY_FC_RUNS ?? 60) },
      );
    });

    it("accepts the unmutated sample with 202 (so the property above reaches the parser)", async () => {
      const s = sample(p, "push", img, SECRET).req;
      const res = await handleHttp(deps, { method: "POST", path: `/webhooks/${routeOf(p)}/p`, query: s.query, headers: s.headers, body: s.body });
      assert.equal(res.status, 202, JSON.stringify(res.body));
    });

    it("answers 401 to any body without the right signature", async () => {
      const forged = sample(p, "push", img, SECRET).forged;
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (bytes) => {
          const res = await handleHttp(deps, {
            method: "POST",
            path: `/webhooks/${routeOf(p)}/p`,
            query: forged.query,
            headers: forged.headers,
            body: Buffer.from(bytes),
          });
          assert.equal(res.status, 401);
        }),
        { numRuns: 30 },
      );
    });
  });
}
