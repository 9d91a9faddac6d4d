/**
 * GitHub Packages / GHCR: `X-GitHub-Event: package` or `registry_package`, signed with
 * `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>`. One event per manifest;
 * only the tagged one has `container_metadata.tag.name`. `ping` is acknowledged and ignored.
 */
import { BadPayloadError, type WebhookProvider } from "./types.ts";
import { digestOf, eventTime, hmacMatches, hostOf, jsonBody, need, obj, str } from "./util.ts";

export const github: WebhookProvider = {
  name: "github",
  verify: (req, secret) => !!secret && hmacMatches("sha256", secret, req.body, req.headers["x-hub-signature-256"], "sha256="),
  parse(req) {
    const event = req.headers["x-github-event"];
    if (event !== "package" && event !== "registry_package") return []; // ping and everything else
    const b = jsonBody(req);
    if (b.action !== "published" && b.action !== "updated") return [];
    const pkg = obj(b[event]) ?? obj(b.package) ?? obj(b.registry_package);
    if (!pkg) throw new BadPayloadError(`${event} object is missing`);
    const type = String(pkg.package_type ?? pkg.ecosystem ?? "").toLowerCase();
    if (type !== "container" && type !== "docker") return [];
    const owner = need(obj(pkg.owner)?.login, "package.owner.login");
    const name = need(pkg.name, "package.name");
    const version = obj(pkg.package_version);
    const meta = obj(version?.container_metadata);
    const tag = str(obj(meta?.tag)?.name);
    if (!tag) return []; // a child manifest pushed by digest
    const digest = digestOf(obj(meta?.tag)?.digest) ?? digestOf(version?.name);
    const mediaType = str(obj(meta?.manifest)?.media_type);
    return [
      {
        registry: hostOf(obj(pkg.registry)?.url) ?? "ghcr.io",
        repository: `${owner}/${name}`.toLowerCase(),
        tag,
        ...(digest ? { digest } : {}),
        ...(mediaType ? { mediaType } : {}),
        eventTime: eventTime(pkg.updated_at),
        deliveryId: req.headers["x-github-delivery"] ?? `${owner}/${name}:${tag}@${digest}`,
      },
    ];
  },
};
