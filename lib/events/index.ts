/** Webhook providers by name. */
import { distribution } from "./distribution.ts";
import type { WebhookProvider } from "./types.ts";

export const PROVIDERS: Readonly<Record<string, WebhookProvider>> = { distribution };
