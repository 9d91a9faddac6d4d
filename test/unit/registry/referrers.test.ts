/**
 * OCI 1.1 referrers on the wire: `referrersList` against the fake's referrers API (server-side
 * filtering, pagination) and against answers that mean "no referrers API" (404, 400, 406, a 200
 * that is not an OCI index); `manifestPutResult` and the registry's `OCI-Subject` answer; a
 * registry refusing the OCI 1.1.0-rc artifact manifest.
 */
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { describe, it } from "node:test";
import { RegistryError } from "../../../lib/errors.ts";
import { digestOf } from "../../../lib/oci/digest.ts";
import { EMPTY_JSON_DIGEST, OCI_ARTIFACT_MANIFEST, OCI_EMPTY, OCI_INDEX, OCI_MANIFEST } from "../../../lib/oci/media-types.ts";
import { MAX_REFERRERS_PAGES } from "../../../lib/registry/referrers.ts";
import { send } from "../../fakes/registry.ts";
import { rejectsWithCode, rejectsWithRegistryError } from "../../helpers/assert.ts";
import { fakeHarness } from "../../helpers/fake-setup.ts";

const h = fakeHarness();
const SIG = "application/vnd.dev.cosign.artifact.sig.v1+json";
const SBOM = "application/spdx+json";
const empty = { mediaType: OCI_EMPTY, digest: EMPTY_JSON_DIGEST, size: 2 };
const subjectBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: empty, layers: [] }));
const subject = { mediaType: OCI_MANIFEST, digest: digestOf(subjectBytes), size: subjectBytes.byteLength };

/** A referrer image manifest: `artifactType` set, or (without) its config's media type stands for it. */
function referrer(n: number, artifactType?: string, configType = OCI_EMPTY): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      ...(artifactType ? { artifactType } : {}),
      config: { ...empty, mediaType: configType },
      layers: [{ mediaType: "application/octet-stream", digest: `sha256:${String(n % 10).repeat(64)}`, size: n }],
      subject,
      annotations: { n: String(n) },
    }),
  );
}

/** Answers every referrers request with `answer`; other requests go to the fake. */
function onReferrers(answer: (res: ServerResponse, url: URL) => void) {
  return {
    hook: (req: { url?: string }, res: ServerResponse) => {
      if (!req.url?.includes("/referrers/")) return false;
      answer(res, new URL(req.url, "http://x"));
      return true;
    },
  };
}

function index(res: ServerResponse, manifests: unknown[], headers: Record<string, string> = {}): void {
  res.statusCode = 200;
  res.setHeader("content-type", OCI_INDEX);
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.end(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
}

describe("referrersList", () => {
  it("lists what was pushed with a subject, keeping mediaType, digest, size, artifactType and annotations", async () => {
    const { client } = await h.setup({ referrers: true });
    await client.manifestPut("app", subject.digest, subjectBytes, OCI_MANIFEST);
    const sig = referrer(1, SIG);
    const sbom = referrer(2, undefined, SBOM); // no artifactType: the config's media type stands for it
    for (const m of [sig, sbom]) await client.manifestPut("app", digestOf(m), m, OCI_MANIFEST);
    const got = await client.referrersList("app", subject.digest);
    assert.equal(got.supported, true);
    assert.deepEqual(got.descriptors, [
      { mediaType: OCI_MANIFEST, digest: digestOf(sig), size: sig.byteLength, artifactType: SIG, annotations: { n: "1" } },
      { mediaType: OCI_MANIFEST, digest: digestOf(sbom), size: sbom.byteLength, artifactType: SBOM, annotations: { n: "2" } },
    ]);
    assert.deepEqual(await client.referrersList("app", `sha256:${"0".repeat(64)}`), { supported: true, descriptors: [] }, "an unknown subject has none");
  });

  it("asks the server to filter by one artifactType, and trusts OCI-Filters-Applied", async () => {
    const { fake, client } = await h.setup({ referrers: true });
    for (const m of [referrer(1, SIG), referrer(2, SBOM), referrer(3, SIG)]) await client.manifestPut("app", digestOf(m), m, OCI_MANIFEST);
    const got = await client.referrersList("app", subject.digest, { artifactTypes: [SIG] });
    assert.deepEqual(
      got.descriptors.map((d) => d.annotations?.n),
      ["1", "3"],
    );
    const asked = fake.requests.filter((r) => r.url.includes("/referrers/"));
    assert.equal(asked.length, 1);
    assert.equal(new URL(asked[0]?.url ?? "", fake.url).searchParams.get("artifactType"), SIG);
    assert.equal(asked[0]?.headers.accept, OCI_INDEX);
  });

  it("filters here when the server ignored the filter (no OCI-Filters-Applied), and asks unfiltered for several types", async () => {
    const all = [1, 2, 3].map((n) => ({
      mediaType: OCI_MANIFEST,
      digest: `sha256:${String(n).repeat(64)}`,
      size: n,
      artifactType: [SIG, SBOM, "x/other"][n - 1],
    }));
    const { fake, client } = await h.setup(onReferrers((res) => index(res, all)));
    const one = await client.referrersList("app", subject.digest, { artifactTypes: [SBOM] });
    assert.deepEqual(
      one.descriptors.map((d) => d.size),
      [2],
    );
    const two = await client.referrersList("app", subject.digest, { artifactTypes: [SIG, SBOM] });
    assert.deepEqual(
      two.descriptors.map((d) => d.size),
      [1, 2],
    );
    const urls = fake.requests.map((r) => new URL(r.url, fake.url));
    assert.equal(urls[1]?.search, "", "several types: the server is asked for all of them");
  });

  it("does not trust OCI-Filters-Applied on a request it did not ask to filter", async () => {
    const all = [SIG, SBOM, "x/other"].map((t, i) => ({ mediaType: OCI_MANIFEST, digest: `sha256:${String(i).repeat(64)}`, size: i, artifactType: t }));
    const { client } = await h.setup(onReferrers((res) => index(res, all, { "oci-filters-applied": "artifactType" })));
    const got = await client.referrersList("app", subject.digest, { artifactTypes: [SIG, "x/other"] });
    assert.deepEqual(
      got.descriptors.map((d) => d.artifactType),
      [SIG, "x/other"],
    );
  });

  it("follows Link rel=next across 3 pages, keeping the filter in the server's links", async () => {
    const { fake, client } = await h.setup({ referrers: true, referrersPageSize: 2 });
    const pushed = [1, 2, 3, 4, 5].map((n) => referrer(n, SIG));
    for (const m of [...pushed, referrer(6, SBOM)]) await client.manifestPut("app", digestOf(m), m, OCI_MANIFEST);
    const got = await client.referrersList("app", subject.digest, { artifactTypes: [SIG] });
    assert.equal(got.supported, true);
    assert.deepEqual(
      got.descriptors.map((d) => d.digest),
      pushed.map((m) => digestOf(m)),
    );
    assert.equal(fake.count("GET", /\/referrers\//), 3);
  });

  it("resolves a relative next link against the page's URL", async () => {
    const { fake, client } = await h.setup(
      onReferrers((res, url) => {
        const page = Number(url.searchParams.get("p") ?? "1");
        if (page < 3) res.setHeader("link", `<./${url.pathname.split("/").pop()}?p=${page + 1}>; rel="next"`); // "./": the digest's colon would read as a scheme
        index(res, [{ mediaType: OCI_MANIFEST, digest: `sha256:${String(page).repeat(64)}`, size: page }]);
      }),
    );
    const got = await client.referrersList("my/app", subject.digest);
    assert.deepEqual(
      got.descriptors.map((d) => d.size),
      [1, 2, 3],
    );
    assert.deepEqual(
      fake.requests.map((r) => r.url),
      [1, 2, 3].map((p) => `/v2/my/app/referrers/${subject.digest}${p > 1 ? `?p=${p}` : ""}`),
    );
  });

  it(`stops a registry that keeps sending new pages after ${MAX_REFERRERS_PAGES}`, async () => {
    const { fake, client } = await h.setup(
      onReferrers((res, url) => {
        res.setHeader("link", `<${url.pathname}?p=${Number(url.searchParams.get("p") ?? "0") + 1}>; rel="next"`);
        index(res, []);
      }),
    );
    await rejectsWithCode(client.referrersList("app", subject.digest), "REGISTRY");
    assert.equal(fake.count("GET", /\/referrers\//), MAX_REFERRERS_PAGES);
  });

  const unsupported: Array<[string, Parameters<typeof onReferrers>[0] | undefined]> = [
    ["404 (no such route, distribution 2.8)", undefined],
    ["400", (res) => send(res, 400, { errors: [{ code: "UNSUPPORTED", message: "no" }] })],
    ["406", (res) => send(res, 406, {})],
    [
      "200 with a content type that is not an OCI index",
      (res) => {
        res.setHeader("content-type", "text/html");
        res.end("<html>welcome</html>");
      },
    ],
  ];
  for (const [what, answer] of unsupported) {
    it(`says unsupported on ${what}`, async () => {
      const { fake, client } = await h.setup(answer ? onReferrers(answer) : {});
      assert.deepEqual(await client.referrersList("app", subject.digest), { supported: false, descriptors: [] });
      assert.equal(fake.count("GET", /\/referrers\//), 1, "not retried");
    });
  }

  it("retries a 500, then throws REGISTRY with the status and side", async () => {
    const { fake, client } = await h.setup(
      onReferrers((res) => send(res, 500, { errors: [{ code: "UNKNOWN", message: "boom" }] })),
      { side: "source", retry: { baseDelayMs: 1, maxAttempts: 3 } },
    );
    const e = await rejectsWithRegistryError(client.referrersList("app", subject.digest), 500, "UNKNOWN");
    assert.equal(e.side, "source");
    assert.equal(fake.count("GET", /\/referrers\//), 3);
  });

  it("caps each page like a manifest read", async () => {
    const big = Array.from({ length: 50 }, (_, i) => ({ mediaType: OCI_MANIFEST, digest: `sha256:${String(i % 10).repeat(64)}`, size: i }));
    const { client } = await h.setup(
      onReferrers((res) => index(res, big)),
      { maxManifestBytes: 1024, side: "source" },
    );
    await rejectsWithCode(client.referrersList("app", subject.digest), "MANIFEST_TOO_LARGE", (e) => assert.equal(e.side, "source"));
  });

  it("refuses a subject that is not a digest before sending anything", async () => {
    const { fake, client } = await h.setup({ referrers: true });
    await rejectsWithCode(client.referrersList("app", "../../etc"), "INVALID_DIGEST");
    assert.equal(fake.count("GET", /\/referrers\//), 0);
  });
});

describe("manifestPutResult", () => {
  it("returns the OCI-Subject a registry with the referrers API answers; manifestPut still returns the digest", async () => {
    const { client } = await h.setup({ referrers: true });
    const m = referrer(1, SIG);
    assert.deepEqual(await client.manifestPutResult("app", digestOf(m), m, OCI_MANIFEST), { digest: digestOf(m), subject: subject.digest });
    assert.deepEqual(await client.manifestPutResult("app", "plain", subjectBytes, OCI_MANIFEST), { digest: subject.digest }, "no subject, no OCI-Subject");
    assert.equal(await client.manifestPut("app", digestOf(m), m, OCI_MANIFEST), digestOf(m));
  });

  it("returns no subject when the registry did not process it", async () => {
    const { client } = await h.setup();
    const m = referrer(1, SIG);
    assert.deepEqual(await client.manifestPutResult("app", digestOf(m), m, OCI_MANIFEST), { digest: digestOf(m) });
  });

  const refusals: Array<[number, string | undefined]> = [
    [400, "MANIFEST_INVALID"],
    [400, "UNSUPPORTED"],
    [415, undefined],
  ];
  for (const [status, code] of refusals) {
    it(`says UNSUPPORTED on the destination when an artifact manifest PUT gets ${status} ${code ?? ""}`, async () => {
      const { client } = await h.setup(
        {
          hook: (req, res) => {
            if (req.method !== "PUT") return false;
            send(res, status, code ? { errors: [{ code, message: "manifest invalid" }] } : {});
            return true;
          },
        },
        { side: "destination" },
      );
      const art = Buffer.from(JSON.stringify({ mediaType: OCI_ARTIFACT_MANIFEST, artifactType: SIG, blobs: [], subject }));
      await rejectsWithCode(client.manifestPutResult("app", digestOf(art), art, OCI_ARTIFACT_MANIFEST), "UNSUPPORTED", (e) => {
        assert.equal(e.side, "destination");
        assert.ok(e.cause instanceof RegistryError && e.cause.status === status);
      });
      // The same answer to an image manifest is the registry's own verdict, passed on unchanged.
      if (status === 400) await rejectsWithRegistryError(client.manifestPut("app", "t", subjectBytes, OCI_MANIFEST), 400, code);
    });
  }
});
