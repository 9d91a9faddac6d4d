/** Webhook providers by name (the `{provider}` of `POST /webhooks/{provider}/{id}`). */
import { acr } from "./acr.ts";
import { artifactory } from "./artifactory.ts";
import { cloudevents, zot } from "./cloudevents.ts";
import { distribution } from "./distribution.ts";
import { dockerhub } from "./dockerhub.ts";
import { ecr } from "./ecr.ts";
import { gar } from "./gar.ts";
import { gitea } from "./gitea.ts";
import { github } from "./github.ts";
import { harbor } from "./harbor.ts";
import { nexus } from "./nexus.ts";
import { quay } from "./quay.ts";
import type { WebhookProvider } from "./types.ts";

export const PROVIDERS: Readonly<Record<string, WebhookProvider>> = {
  dockerhub,
  harbor,
  quay,
  github,
  distribution,
  ecr,
  acr,
  gar,
  artifactory,
  nexus,
  gitea,
  forgejo: gitea,
  zot,
  cloudevents,
};
