/**
 * AWS ECR via EventBridge (`source: aws.ecr`, `detail-type: ECR Image Action`). Over HTTP (an
 * EventBridge API destination) the configured static Authorization value authenticates it.
 */
import { BadPayloadError, type WebhookProvider } from "./types.ts";
import { digestOf, eventTime, jsonBody, need, obj, staticAuthMatches, str } from "./util.ts";

export const ecr: WebhookProvider = {
  name: "ecr",
  verify: (req, secret) => staticAuthMatches(req, secret),
  parse(req) {
    const b = jsonBody(req);
    if (b.source !== "aws.ecr" || b["detail-type"] !== "ECR Image Action") return [];
    const d = obj(b.detail);
    if (!d) throw new BadPayloadError("detail is missing");
    if (d["action-type"] !== "PUSH" || d.result !== "SUCCESS") return [];
    const tag = str(d["image-tag"]);
    if (!tag) return [];
    const account = need(b.account, "account");
    const region = need(b.region, "region");
    if (!/^\d{12}$/.test(account) || !/^[a-z0-9-]+$/.test(region)) throw new BadPayloadError("account or region malformed");
    const digest = digestOf(d["image-digest"]);
    const mediaType = str(d["manifest-media-type"]);
    return [
      {
        registry: `${account}.dkr.ecr.${region}.amazonaws.com${region.startsWith("cn-") ? ".cn" : ""}`,
        repository: need(d["repository-name"], "detail.repository-name"),
        tag,
        ...(digest ? { digest } : {}),
        ...(mediaType ? { mediaType } : {}),
        eventTime: eventTime(b.time),
        deliveryId: need(b.id, "id"),
      },
    ];
  },
};
