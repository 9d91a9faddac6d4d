/**
 * CloudEvents: binary mode (`ce-*` headers, body = data), structured
 * (`application/cloudevents+json`) and batched (`application/cloudevents-batch+json`). Used by
 * `zot` (`zotregistry.image.updated`: data `{name, reference, digest, mediaType}`) and by the
 * generic `cloudevents` provider (data `{registry?, repository, tag?, digest?, mediaType?}` or
 * `{reference}`), authenticated by `X-Signature: sha256=<hex HMAC>` (sha1/sha512 too) or a static
 * Authorization value.
 */
import { splitReferenceLoose } from "../oci/reference.ts";
import { createHash } from "node:crypto";
import { safeEqual } from "./compare.ts";
import { BadPayloadError, type ImageEvent, type WebhookProvider, type WebhookRequest } from "./types.ts";
import { digestOf, eventTime, hmacMatches, hostOf, jsonBody, obj, staticAuthMatches, str, tagOrDigest } from "./util.ts";

interface CloudEvent {
  id: string;
  source: string;
  type: string;
  time?: string;
  data: Record<string, unknown>;
}

/** The events of a request, whatever the mode. */
export function cloudEventsOf(req: WebhookRequest): CloudEvent[] {
  const h = req.headers;
  const contentType = (h["content-type"] ?? "").toLowerCase();
  const fromObject = (e: Record<string, unknown>, i: number): CloudEvent => {
    const data = obj(e.data);
    if (!str(e.id) || !str(e.type) || !data) throw new BadPayloadError(`event ${i}: needs id, type and an object data`);
    return { id: String(e.id), source: str(e.source) ?? "", type: String(e.type), ...(str(e.time) ? { time: String(e.time) } : {}), data };
  };
  if (h["ce-id"] && h["ce-type"]) {
    return [{ id: h["ce-id"], source: h["ce-source"] ?? "", type: h["ce-type"], ...(h["ce-time"] ? { time: h["ce-time"] } : {}), data: jsonBody(req) }];
  }
  if (contentType.startsWith("application/cloudevents-batch+json")) {
    let arr: unknown;
    try {
      arr = JSON.parse(req.body.toString("utf8"));
    } catch {
      throw new BadPayloadError("body is not JSON");
    }
    if (!Array.isArray(arr)) throw new BadPayloadError("a batch must be an array");
    return arr.map((e, i) => {
      const o = obj(e);
      if (!o) throw new BadPayloadError(`event ${i} is not an object`);
      return fromObject(o, i);
    });
  }
  const b = jsonBody(req);
  if (b.specversion === undefined) throw new BadPayloadError("not a CloudEvent: no ce-* headers and no specversion");
  return [fromObject(b, 0)];
}

/** Generic events of these kinds are acknowledged and ignored. */
const IGNORED_TYPE = /[.:](ping|test|delete|deleted|pull|pulled)$/i;

const dedupe = (e: CloudEvent) => createHash("sha256").update(`${e.source}\u0000${e.id}`).digest("hex");

function authorizedBy(req: WebhookRequest, secret: string | undefined): boolean {
  if (!secret) return false;
  const sig = req.headers["x-signature"];
  if (sig) {
    const alg = sig.split("=")[0] as "sha1" | "sha256" | "sha512";
    return ["sha1", "sha256", "sha512"].includes(alg) && hmacMatches(alg, secret, req.body, sig, `${alg}=`);
  }
  const auth = req.headers.authorization ?? "";
  return staticAuthMatches(req, secret) || safeEqual(auth, `Basic ${Buffer.from(secret).toString("base64")}`);
}

export const zot: WebhookProvider = {
  name: "zot",
  verify: authorizedBy,
  parse(req) {
    const out: ImageEvent[] = [];
    for (const e of cloudEventsOf(req)) {
      if (!e.type.endsWith(".image.updated")) continue;
      const { tag, digest: refDigest } = tagOrDigest(e.data.reference);
      if (!tag) continue;
      const digest = digestOf(e.data.digest) ?? refDigest;
      const name = str(e.data.name);
      if (!name) throw new BadPayloadError("data.name is missing");
      const registry = e.source.includes(".") || e.source.includes(":") ? hostOf(e.source) : undefined;
      const mediaType = str(e.data.mediaType);
      out.push({
        ...(registry && registry !== "zotregistry.dev" ? { registry } : {}),
        repository: name,
        tag,
        ...(digest ? { digest } : {}),
        ...(mediaType ? { mediaType } : {}),
        eventTime: eventTime(e.time),
        deliveryId: dedupe(e),
      });
    }
    return out;
  },
};

export const cloudevents: WebhookProvider = {
  name: "cloudevents",
  verify: authorizedBy,
  parse(req) {
    const out: ImageEvent[] = [];
    for (const e of cloudEventsOf(req)) {
      if (IGNORED_TYPE.test(e.type)) continue;
      const d = e.data;
      let fields: { registry?: string; repository?: string; tag?: string; digest?: string } | undefined;
      if (str(d.reference)) fields = splitReferenceLoose(String(d.reference));
      else if (str(d.repository))
        fields = {
          ...(str(d.registry) ? { registry: hostOf(d.registry) ?? "" } : {}),
          repository: String(d.repository),
          ...tagOrDigest(d.tag),
          ...(digestOf(d.digest) ? { digest: digestOf(d.digest) } : {}),
        };
      if (!fields?.repository) throw new BadPayloadError("data needs repository or reference");
      if (!fields.tag) continue;
      const mediaType = str(d.mediaType);
      out.push({
        ...(fields.registry ? { registry: fields.registry } : {}),
        repository: fields.repository,
        tag: fields.tag,
        ...(fields.digest ? { digest: fields.digest } : {}),
        ...(mediaType ? { mediaType } : {}),
        eventTime: eventTime(e.time),
        deliveryId: dedupe(e),
      });
    }
    return out;
  },
};
