/**
 * Realistic webhook deliveries per provider, built from shared/reference/webhooks.md (exact field
 * and header names), signed the way each sender signs. Used by unit, property and e2e tests.
 */
import { createHmac, createSign, generateKeyPairSync, randomUUID } from "node:crypto";
import type { WebhookRequest } from "../../lib/events/types.ts";

export type Kind = "push" | "ping" | "child" | "delete";
export interface Image {
  registry: string;
  repository: string;
  tag: string;
  digest: string;
  mediaType: string;
}

export interface Sample {
  req: WebhookRequest;
  /** The same delivery with a wrong signature/token (undefined: the sender cannot be forged this way). */
  forged: WebhookRequest;
}

const hex = (alg: string, secret: string, body: string | Buffer) => createHmac(alg, secret).update(body).digest("hex");
const b = (o: unknown) => Buffer.from(JSON.stringify(o));
const CHILD = `sha256:${"d".repeat(64)}`;

/** An RSA key, its JWKS, and a signer of Pub/Sub-style OIDC tokens. */
export const oidc = (() => {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: "jwk" }), kid: "test-key", alg: "RS256", use: "sig" };
  const token = (claims: Record<string, unknown>, key = privateKey) => {
    const h = Buffer.from(JSON.stringify({ alg: "RS256", kid: "test-key", typ: "JWT" })).toString("base64url");
    const p = Buffer.from(JSON.stringify(claims)).toString("base64url");
    const s = createSign("RSA-SHA256").update(`${h}.${p}`).sign(key).toString("base64url");
    return `${h}.${p}.${s}`;
  };
  const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  return { jwks: { keys: [jwk as Record<string, unknown>] }, token, other };
})();
export const GAR_AUDIENCE = "https://ferry.example.com/webhooks/gar/pubsub";
export const GAR_SA = "pubsub-push@proj.iam.gserviceaccount.com";
export const garClaims = (over: Record<string, unknown> = {}) => ({
  iss: "https://accounts.google.com",
  aud: GAR_AUDIENCE,
  email: GAR_SA,
  email_verified: true,
  exp: Math.floor(Date.now() / 1000) + 600,
  iat: Math.floor(Date.now() / 1000),
  ...over,
});

/** A delivery of `kind` for `img`, signed with `secret`. */
export function sample(provider: string, kind: Kind, img: Image, secret: string): Sample {
  const tag = kind === "child" ? undefined : img.tag;
  const digest = kind === "child" ? CHILD : img.digest;
  const withHeaders = (body: Buffer, headers: Record<string, string>, query: Record<string, string> = {}): WebhookRequest => ({ headers, query, body });
  switch (provider) {
    case "dockerhub": {
      // Docker Hub has no child or delete events: its pushes carry a tag, and "ping"/"delete" do not exist.
      const body = b({
        callback_url: "https://registry.hub.docker.com/u/acme/web/hook/2141b5/",
        push_data: { pushed_at: 1717000000, pusher: "ci-bot", tag: kind === "push" ? img.tag : "" },
        repository: {
          repo_name: img.repository,
          namespace: img.repository.split("/")[0],
          name: img.repository.split("/")[1],
          repo_url: "https://hub.docker.com/r/acme/web",
          is_private: true,
          status: "Active",
        },
      });
      return { req: withHeaders(body, { "content-type": "application/json" }, { token: secret }), forged: withHeaders(body, {}, { token: "guess" }) };
    }
    case "harbor": {
      const type = kind === "delete" ? "DELETE_ARTIFACT" : kind === "ping" ? "PULL_ARTIFACT" : "PUSH_ARTIFACT";
      const body = b({
        type,
        occur_at: 1717000000,
        operator: "robot$ci",
        event_data: {
          resources: [{ digest, tag: tag ?? digest, resource_url: `${img.registry}/${img.repository}${tag ? `:${tag}` : `@${digest}`}` }],
          repository: {
            date_created: 1716000000,
            name: img.repository.split("/").at(-1),
            namespace: img.repository.split("/")[0],
            repo_full_name: img.repository,
            repo_type: "private",
          },
        },
      });
      return {
        req: withHeaders(body, { authorization: `Bearer ${secret}`, "content-type": "application/json" }),
        forged: withHeaders(body, { authorization: "Bearer nope" }),
      };
    }
    case "harbor-ce": {
      const type = kind === "delete" ? "harbor.artifact.deleted" : kind === "ping" ? "harbor.artifact.pulled" : "harbor.artifact.pushed";
      const body = b({
        specversion: "1.0",
        id: randomUUID(),
        source: "/projects/2/webhook/policies/7",
        type,
        time: "2024-05-29T14:44:26Z",
        operator: "robot$ci",
        requestid: "x",
        datacontenttype: "application/json",
        data: {
          resources: [{ digest, tag: tag ?? digest, resource_url: `${img.registry}/${img.repository}:${tag ?? ""}` }],
          repository: { repo_full_name: img.repository },
        },
      });
      return {
        req: withHeaders(body, { authorization: secret, "content-type": "application/cloudevents+json" }),
        forged: withHeaders(body, { authorization: "wrong" }),
      };
    }
    case "quay": {
      const body = b({
        repository: img.repository,
        namespace: img.repository.split("/")[0],
        name: img.repository.split("/")[1],
        docker_url: `${img.registry}/${img.repository}`,
        homepage: `https://${img.registry}/repository/${img.repository}`,
        updated_tags: kind === "child" || kind === "delete" ? [] : [img.tag],
      });
      return {
        req: withHeaders(body, { "content-type": "application/json", "user-agent": "python-requests/2.31" }, { token: secret }),
        forged: withHeaders(body, {}, {}),
      };
    }
    case "github": {
      const event = kind === "ping" ? "ping" : "package";
      const action = kind === "delete" ? "deleted" : "published";
      const [owner, name] = img.repository.split("/") as [string, string];
      const body =
        kind === "ping"
          ? b({ zen: "Keep it logically awesome.", hook_id: 1 })
          : b({
              action,
              package: {
                id: 10696,
                name,
                ecosystem: "CONTAINER",
                package_type: "CONTAINER",
                owner: { login: owner.toUpperCase() },
                package_version: {
                  id: 57755791,
                  name: digest,
                  version: digest,
                  package_url: `${img.registry}/${img.repository}:${tag ?? ""}`,
                  container_metadata: { tag: { name: tag ?? "", digest }, manifest: { digest, media_type: img.mediaType } },
                },
                registry: { name: "GitHub CONTAINER registry", type: "CONTAINER", url: `https://${img.registry}/${owner}`, vendor: "GitHub Inc" },
              },
              repository: { full_name: img.repository },
              sender: { login: "ci-bot" },
            });
      const headers = { "x-github-event": event, "x-github-delivery": randomUUID(), "content-type": "application/json" };
      return {
        req: withHeaders(body, { ...headers, "x-hub-signature-256": `sha256=${hex("sha256", secret, body)}` }),
        forged: withHeaders(body, { ...headers, "x-hub-signature-256": `sha256=${hex("sha256", "other", body)}` }),
      };
    }
    case "distribution": {
      const action = kind === "delete" ? "delete" : kind === "ping" ? "pull" : "push";
      const body = b({
        events: [
          {
            id: randomUUID(),
            timestamp: "2024-05-29T14:44:26.402973972Z",
            action,
            target: {
              mediaType: kind === "child" ? "application/vnd.oci.image.manifest.v1+json" : img.mediaType,
              digest,
              size: 708,
              length: 708,
              repository: img.repository,
              url: `http://${img.registry}/v2/${img.repository}/manifests/${digest}`,
              ...(tag ? { tag } : {}),
            },
            request: { id: "6df2", addr: "10.0.0.7:42961", host: img.registry, method: "PUT", useragent: "buildkit/v0.13" },
            actor: { name: "ci-bot" },
            source: { addr: "registry-0:5000", instanceID: "a53d" },
          },
        ],
      });
      return {
        req: withHeaders(body, { authorization: `Bearer ${secret}`, "content-type": "application/vnd.docker.distribution.events.v1+json" }),
        forged: withHeaders(body, { authorization: "Bearer x" }),
      };
    }
    case "ecr": {
      const [account, , , region] = img.registry.split(".");
      const body = b({
        version: "0",
        id: randomUUID(),
        "detail-type": kind === "ping" ? "ECR Image Scan" : "ECR Image Action",
        source: "aws.ecr",
        account,
        time: "2024-05-29T01:54:34Z",
        region,
        resources: [],
        detail: {
          result: "SUCCESS",
          "action-type": kind === "delete" ? "DELETE" : "PUSH",
          "repository-name": img.repository,
          "image-digest": digest,
          ...(tag ? { "image-tag": tag } : {}),
          "manifest-media-type": img.mediaType,
        },
      });
      return { req: withHeaders(body, { authorization: `Bearer ${secret}` }), forged: withHeaders(body, { authorization: "Bearer no" }) };
    }
    case "acr": {
      const action = kind === "ping" ? "ping" : kind === "delete" ? "delete" : "push";
      const body = b({
        id: randomUUID(),
        timestamp: "2024-05-29T16:52:01.343145347Z",
        action,
        target: { mediaType: img.mediaType, size: 524, length: 524, digest, repository: img.repository, ...(tag ? { tag } : {}) },
        request: { id: "3cbb", host: img.registry, method: "PUT", useragent: "docker/24.0" },
      });
      return {
        req: withHeaders(body, { authorization: `Bearer ${secret}`, "user-agent": "AzureContainerRegistry/1.0" }),
        forged: withHeaders(body, { authorization: "Bearer x" }),
      };
    }
    case "gar": {
      const action = kind === "delete" ? "DELETE" : "INSERT";
      const data =
        kind === "child"
          ? { action, digest: `${img.registry}/${img.repository}@${digest}` }
          : { action, digest: `${img.registry}/${img.repository}@${digest}`, tag: `${img.registry}/${img.repository}:${img.tag}` };
      const body =
        kind === "ping"
          ? b({
              message: { data: Buffer.from("{}").toString("base64"), messageId: "1", publishTime: "2024-05-29T04:18:04.805Z" },
              subscription: "projects/p/subscriptions/s",
            })
          : b({
              message: {
                data: Buffer.from(JSON.stringify(data)).toString("base64"),
                messageId: String(Math.floor(Math.random() * 1e15)),
                message_id: "x",
                publishTime: "2024-05-29T04:18:04.805Z",
                attributes: {},
              },
              subscription: "projects/my-proj/subscriptions/replicator",
            });
      return {
        req: withHeaders(body, { authorization: `Bearer ${oidc.token(garClaims())}` }),
        forged: withHeaders(body, { authorization: `Bearer ${oidc.token(garClaims(), oidc.other)}` }),
      };
    }
    case "artifactory": {
      const body = b({
        domain: "docker",
        event_type: kind === "delete" ? "deleted" : kind === "ping" ? "promoted" : "pushed",
        data: {
          repo_key: img.repository.split("/")[0],
          event_type: "pushed",
          path: `${img.repository}/${tag ?? "x"}/list.manifest.json`,
          name: "list.manifest.json",
          sha256: digest.slice(7),
          size: 1206,
          image_name: img.repository.split("/").slice(1).join("/"),
          ...(tag ? { tag } : {}),
          image_type: "docker",
          platforms: [{ architecture: "amd64", os: "linux" }],
        },
        subscription_key: "replicator",
        jpd_origin: `https://${img.registry}`,
        source: "jfrog/ci-bot",
      });
      return {
        req: withHeaders(body, { "x-jfrog-event-auth": hex("sha256", secret, body) }),
        forged: withHeaders(body, { "x-jfrog-event-auth": hex("sha256", "x", body) }),
      };
    }
    case "nexus": {
      const action = kind === "delete" ? "DELETED" : "CREATED";
      const body = Buffer.from(
        JSON.stringify({
          timestamp: "2024-05-29T21:49:44.219+0000",
          nodeId: "8C4F",
          initiator: "ci-bot/10.0.0.9",
          repositoryName: "docker-hosted",
          action,
          component: {
            id: "c770",
            componentId: "YXBw",
            format: kind === "ping" ? "maven2" : "docker",
            name: img.repository,
            version: kind === "child" ? digest : img.tag,
          },
        }),
      );
      const headers = {
        "x-nexus-webhook-id": "rm:repository:component",
        "x-nexus-webhook-delivery": randomUUID(),
        "content-type": "application/json; charset=UTF-8",
      };
      return {
        req: withHeaders(body, { ...headers, "x-nexus-webhook-signature": hex("sha1", secret, body) }),
        forged: withHeaders(body, { ...headers, "x-nexus-webhook-signature": hex("sha1", "x", body) }),
      };
    }
    case "gitea": {
      const [owner, name] = img.repository.split("/") as [string, string];
      const body = b({
        action: kind === "delete" ? "deleted" : "created",
        package: {
          id: 42,
          type: kind === "ping" ? "npm" : "container",
          name,
          version: kind === "child" ? digest : img.tag,
          owner: { login: owner },
          creator: { login: "ci-bot" },
          repository: null,
          html_url: `https://${img.registry}/${owner}/-/packages/container/${name}/${img.tag}`,
          created_at: "2024-05-29T10:00:00Z",
        },
        sender: { login: "ci-bot" },
      });
      const headers = { "x-gitea-event": "package", "x-gitea-delivery": randomUUID(), "x-github-event": "package" };
      return {
        req: withHeaders(body, { ...headers, "x-gitea-signature": hex("sha256", secret, body) }),
        forged: withHeaders(body, { ...headers, "x-gitea-signature": hex("sha256", "x", body) }),
      };
    }
    case "zot": {
      const type = kind === "delete" ? "zotregistry.image.deleted" : kind === "ping" ? "zotregistry.repository.created" : "zotregistry.image.updated";
      const body = b({
        name: img.repository,
        reference: tag ?? digest,
        digest,
        mediaType: img.mediaType,
        manifest: "{}",
        actor: { name: "ci-bot" },
        request: { addr: "10.0.0.9:54321", method: "PUT", useragent: "docker/24.0.5" },
      });
      const headers = {
        "ce-specversion": "1.0",
        "ce-id": randomUUID(),
        "ce-source": `http://${img.registry}`,
        "ce-type": type,
        "ce-time": "2024-05-29T10:00:00Z",
        "content-type": "application/json",
      };
      return {
        req: withHeaders(body, { ...headers, authorization: `Bearer ${secret}` }),
        forged: withHeaders(body, { ...headers, authorization: "Bearer no" }),
      };
    }
    case "cloudevents": {
      if (kind === "ping") {
        const ping = b({ specversion: "1.0", id: randomUUID(), source: "ci", type: "dev.example.ping", data: {} });
        return {
          req: withHeaders(ping, { "content-type": "application/cloudevents+json", "x-signature": `sha256=${hex("sha256", secret, ping)}` }),
          forged: withHeaders(ping, {}),
        };
      }
      const body = b({
        specversion: "1.0",
        id: randomUUID(),
        source: "ci/pipeline",
        type: kind === "delete" ? "dev.example.image.deleted" : "dev.example.image.pushed",
        time: "2024-05-29T10:00:00Z",
        datacontenttype: "application/json",
        data: { registry: img.registry, repository: img.repository, ...(tag ? { tag } : {}), digest, mediaType: img.mediaType },
      });
      const withDelete =
        kind === "delete"
          ? b({
              specversion: "1.0",
              id: randomUUID(),
              source: "ci",
              type: "dev.example.image.deleted",
              data: { registry: img.registry, repository: img.repository, digest },
            })
          : body;
      return {
        req: withHeaders(withDelete, { "content-type": "application/cloudevents+json", "x-signature": `sha256=${hex("sha256", secret, withDelete)}` }),
        forged: withHeaders(withDelete, { "content-type": "application/cloudevents+json", "x-signature": `sha256=${hex("sha256", "x", withDelete)}` }),
      };
    }
    default:
      throw new Error(`no sample for ${provider}`);
  }
}

/**
 * Event kinds a sender does not have, with the reason (so tests say so instead of inventing them).
 */
export const NOT_SENT: Record<string, Partial<Record<Kind, string>>> = {
  dockerhub: { ping: "Docker Hub sends no ping or test event", delete: "Docker Hub sends no delete events" },
  quay: { ping: "Quay's test notification is a repo_push with sample tags, indistinguishable from a push (plan re-checks the tags)" },
};

export const SAMPLE_PROVIDERS = [
  "dockerhub",
  "harbor",
  "harbor-ce",
  "quay",
  "github",
  "distribution",
  "ecr",
  "acr",
  "gar",
  "artifactory",
  "nexus",
  "gitea",
  "zot",
  "cloudevents",
];
/** The route name of a sample (harbor-ce is harbor in CloudEvents format). */
export const routeOf = (p: string) => (p === "harbor-ce" ? "harbor" : p);

/** The same request with `body` replaced and its signature recomputed, as the sender would. */
export function resign(provider: string, req: WebhookRequest, body: Buffer, secret: string): WebhookRequest {
  const h = { ...req.headers };
  if (h["x-hub-signature-256"]) h["x-hub-signature-256"] = `sha256=${hex("sha256", secret, body)}`;
  if (h["x-gitea-signature"]) h["x-gitea-signature"] = hex("sha256", secret, body);
  if (h["x-nexus-webhook-signature"]) h["x-nexus-webhook-signature"] = hex("sha1", secret, body);
  if (h["x-jfrog-event-auth"]) h["x-jfrog-event-auth"] = hex("sha256", secret, body);
  if (h["x-signature"]) h["x-signature"] = `sha256=${hex("sha256", secret, body)}`;
  void provider;
  return { headers: h, query: req.query, body };
}
