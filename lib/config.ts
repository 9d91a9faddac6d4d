/**
 * The ferry configuration file (YAML), shared by `ferry serve` and the CDK stack: registries,
 * webhook senders, mirror rules, API settings. Parsed once, validated with zod; a bad field
 * is reported with its path (`rules[0].destinations[1]: …`).
 */
import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { FerryError } from "./errors.ts";
import { parsePlatform } from "./oci/platform.ts";
import { PROFILE_NAMES } from "./registry/host-profile.ts";
import { NotificationSchema, ReferrersSettingSchema, VerifySettingsSchema } from "./rules/rule-settings.ts";
import { DeletesSettingSchema } from "./rules/deletes.ts";
import semver from "semver";

const host = z.string().regex(/^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:.]+\](:\d+)?$/, "want host[:port]");

const platform = z.string().refine((s) => {
  try {
    parsePlatform(s);
    return true;
  } catch {
    return false;
  }
}, "want os/arch[/variant], e.g. linux/arm64");

export const RegistrySettingsSchema = z
  .object({
    host,
    plainHttp: z.boolean().optional(),
    insecure: z.boolean().optional(),
    caFile: z.string().optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    usernameEnv: z.string().optional(),
    passwordEnv: z.string().optional(),
    /** A file holding the password (a mounted secret). */
    passwordFile: z.string().optional(),
    /** A docker config.json (auths, credHelpers) to read this host's credentials from. */
    dockerConfig: z.string().optional(),
    /** On AWS: a Secrets Manager secret with {"username","password"}. */
    secretArn: z.string().optional(),
    uploadMode: z.enum(["monolithic", "patch", "chunked"]).optional(),
    /** The registry's quirks by name, when its host name does not say (GHCR or ECR behind a domain of your own). */
    profile: z.enum(PROFILE_NAMES).optional(),
    /** Token realm host names that may receive this registry's credentials (e.g. a GitLab registry's gitlab.example.com). */
    tokenRealms: z.array(z.string().regex(/^[A-Za-z0-9.-]+$/, "want a host name")).optional(),
    /** Request budget for this host, e.g. to stay within Docker Hub's pull limits. */
    requestsPerSecond: z.number().positive().optional(),
  })
  .strict()
  .refine((r) => !(r.password && r.passwordEnv), { message: "give password or passwordEnv, not both", path: ["password"] });

export const WebhookSchema = z
  .object({
    provider: z.string().min(1),
    id: z.string().regex(/^[A-Za-z0-9_.-]+$/, "letters, digits, '.', '_' and '-' only"),
    registry: host.optional(),
    secret: z.string().min(1).optional(),
    secretEnv: z.string().optional(),
    secretArn: z.string().optional(),
    /** gar (Pub/Sub push): the OIDC token's audience and service account, and the trusted keys. */
    audience: z.string().optional(),
    serviceAccount: z.string().optional(),
    jwksFile: z.string().optional(),
    jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).optional(),
  })
  .strict();

/** A destination template: `host[:port]/path` with `{repo}`, `{name}` and `{tag}` placeholders. */
const destinationTemplate = z.string().regex(/^[^/\s]+\/\S+$/, "want host[:port]/repository (placeholders {repo}, {name}, {tag})");

const regex = z.string().refine((s) => {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
}, "not a valid regular expression");

const semverRange = z.string().refine((s) => semver.validRange(s, { loose: true }) !== null, "not a valid semver range");

/** EventBridge schedule expressions: rate(N unit) or cron(6 fields). */
const schedule = z
  .string()
  .regex(
    /^rate\(\d+ (minute|minutes|hour|hours|day|days)\)$|^cron\((\S+ ){5}\S+\)$/,
    "want rate(N minutes|hours|days) or cron(min hour day month weekday year)",
  );

export const RuleSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/, "letters, digits, '.', '_' and '-' only"),
    source: z.union([z.string(), z.array(z.string()).min(1)]),
    destinations: z.array(destinationTemplate).min(1),
    platforms: z.array(platform).optional(),
    merge: z.boolean().optional(),
    /** `index`: a single-platform image is pushed as a one-entry index with its platform (with `merge`, joining the destination's). */
    normalize: z.literal("index").optional(),
    /** Referrers (signatures, SBOMs, attestations) copied with each image: all (default), none, or `{artifactTypes: [...]}`. */
    referrers: ReferrersSettingSchema.optional(),
    /** Move tags only for images signed by one of these cosign keys (key-based; keyless is not supported). */
    verify: VerifySettingsSchema.optional(),
    /** Tags deleted at the source are deleted downstream (only where ferry wrote them last): `propagate` or `{mode: propagate, delay: SECONDS}`. */
    deletes: DeletesSettingSchema.optional(),
    tags: z
      .object({
        include: z.array(regex).optional(),
        exclude: z.array(regex).optional(),
        semver: semverRange.optional(),
        /** Backfill only: the N highest versions. */
        keepLatest: z.number().int().min(1).optional(),
      })
      .strict()
      .optional(),
    backfill: z
      .object({
        schedule,
        /** Repositories to list when the source globs have wildcards (else the registry catalog is used). */
        repositories: z.array(z.string()).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** Requests per second and burst for one group of API routes. */
const routeThrottle = z.object({ rate: z.number().positive().max(10_000), burst: z.number().int().positive().max(5_000) }).strict();

export const ConfigSchema = z
  .object({
    version: z.literal(1),
    registries: z.array(RegistrySettingsSchema).default([]),
    webhooks: z.array(WebhookSchema).default([]),
    rules: z.array(RuleSchema).default([]),
    api: z
      .object({
        token: z.string().min(1).optional(),
        tokenEnv: z.string().optional(),
        /**
         * One-off replications the API may run besides those a rule covers: a source repository glob
         * and the destination repository globs it may go to (`POST /replications` answers 403 otherwise).
         */
        allow: z.array(z.object({ source: z.string().min(1), destinations: z.array(z.string().min(1)).min(1) }).strict()).optional(),
        /**
         * On AWS: the status page (served at `/` by the API function) and its login token, a Secrets
         * Manager secret (the string, or {"token": …}). Without it the page's routes are not deployed.
         * `ferry serve` uses `token`/`tokenEnv` instead, as /replications does.
         */
        statusPage: z
          .object({ tokenSecretArn: z.string().min(1) })
          .strict()
          .optional(),
        /** On AWS: API Gateway throttles per route, so a webhook flood cannot starve /replications (defaults in infra/ferry.ts). */
        throttle: z.object({ webhooks: routeThrottle.optional(), replications: routeThrottle.optional() }).strict().optional(),
      })
      .strict()
      .default({}),
    pipeline: z
      .object({
        /** Concurrent copy invocations (the fan-out) when served locally. */
        copyConcurrency: z.number().int().min(1).max(64).default(4),
        /** Deliveries before a message goes to its DLQ (AWS advises ≥ 5 for Lambda consumers). */
        maxReceiveCount: z.number().int().min(1).max(100).default(5),
        /** Seconds a received message stays invisible (Lambda: ≥ 6 × the function timeout). */
        visibilityTimeout: z.number().int().min(1).max(43200).default(30),
        /** Days finished jobs are kept (DynamoDB TTL). */
        jobTtlDays: z.number().int().min(1).max(3650).default(14),
        /** Seconds a copy invocation may run when served locally (Lambda: the function timeout). */
        copyTimeout: z.number().int().min(1).max(900).default(900),
        /** Blobs of this many bytes or more are copied in resumable chunks: they may span invocations (RESUMABLE). */
        resumeAboveBytes: z
          .number()
          .int()
          .min(1024 * 1024)
          .default(256 * 1024 * 1024),
        /** Seconds without progress after which the reconciler re-drives a job (default: 2 × visibilityTimeout). */
        stuckAfter: z.number().int().min(1).max(86400).optional(),
        /** Re-drives the reconciler makes before it fails a job that does not move (code STUCK). */
        maxRedrives: z.number().int().min(0).max(100).default(3),
        /** Seconds between reconciler passes under `ferry serve` (AWS: its schedule). */
        reconcileEvery: z.number().int().min(1).max(3600).default(30),
        /** Seconds a merge holds a destination tag's lease; renewed while its PUT runs. */
        tagLease: z.number().int().min(1).max(3600).default(30),
        /** Seconds a merge waits for a tag other jobs hold before it fails (code TAG_BUSY). */
        tagWait: z.number().int().min(1).max(86400).default(900),
      })
      .strict()
      .default({
        copyConcurrency: 4,
        maxReceiveCount: 5,
        visibilityTimeout: 30,
        jobTtlDays: 14,
        copyTimeout: 900,
        resumeAboveBytes: 256 * 1024 * 1024,
        maxRedrives: 3,
        reconcileEvery: 30,
        tagLease: 30,
        tagWait: 900,
      }),
    /** Progress guards on every registry read, as curl's --speed-limit/--speed-time. */
    transfer: z
      .object({
        /** Seconds without a byte (or without response headers) before a read fails with STALL. */
        stallTimeout: z.number().min(1).max(3600).default(30),
        /** Bytes per second a body must average over `speedTime` seconds. */
        speedLimit: z.number().min(0).default(1024),
        speedTime: z.number().min(1).max(3600).default(30),
      })
      .strict()
      .default({ stallTimeout: 30, speedLimit: 1024, speedTime: 30 }),
    /** On AWS: every alarm notifies one SNS topic; an e-mail address may subscribe to it. */
    alarms: z.object({ email: z.string().email().optional() }).strict().default({}),
    /** Reports of jobs' ends (failures by default) to URLs: signed JSON, Slack-compatible. */
    notifications: z.array(NotificationSchema).default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.webhooks.forEach((w, i) => {
      const k = `${w.provider}/${w.id}`;
      if (seen.has(k)) ctx.addIssue({ code: "custom", message: `duplicate webhook ${k}`, path: ["webhooks", i, "id"] });
      seen.add(k);
    });
    const names = new Set<string>();
    c.rules.forEach((r, i) => {
      if (names.has(r.name)) ctx.addIssue({ code: "custom", message: `duplicate rule name ${r.name}`, path: ["rules", i, "name"] });
      names.add(r.name);
    });
  });

export type FerryConfig = z.infer<typeof ConfigSchema>;
export type RuleConfig = z.infer<typeof RuleSchema>;
export type WebhookConfig = z.infer<typeof WebhookSchema>;
export type RegistrySettings = z.infer<typeof RegistrySettingsSchema>;

/** Formats zod issues as `path: message` lines. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((i) => {
      const path = i.path.reduce<string>((s, p) => (typeof p === "number" ? `${s}[${p}]` : s ? `${s}.${String(p)}` : String(p)), "");
      return `${path || "(root)"}: ${i.message}`;
    })
    .join("; ");
}

/** Validates a parsed config object; INVALID_CONFIG names every bad field's path. */
export function parseConfig(obj: unknown, source = "config"): FerryConfig {
  const r = ConfigSchema.safeParse(obj);
  if (!r.success) throw new FerryError("INVALID_CONFIG", `${source}: ${formatIssues(r.error.issues)}`);
  return r.data;
}

/** Parses YAML text, then validates it. A YAML error says where, and how to fix the usual one. */
export function parseConfigText(text: string, source = "config"): FerryConfig {
  let obj: unknown;
  try {
    obj = parseYaml(text);
  } catch (e) {
    const pos = (e as { linePos?: Array<{ line: number; col: number }> }).linePos?.[0];
    const where = pos ? `${source}:${pos.line}:${pos.col}` : source;
    throw new FerryError("INVALID_CONFIG", `${where}: not valid YAML: ${(e as Error).message.split("\n")[0]}${yamlHint(text, pos?.line)}`);
  }
  return parseConfig(obj, source);
}

/**
 * Inside `[...]` or `{...}` (a flow collection), `{` and `}` are YAML syntax: a destination like
 * `[host/{repo}]` must be quoted. Says so when the line at fault (or the one before) has one.
 */
function yamlHint(text: string, line: number | undefined): string {
  if (line === undefined) return "";
  const lines = text.split("\n");
  const near = [lines[line - 1], lines[line - 2]].filter((l): l is string => l !== undefined);
  const flowWithBrace = near.some((l) => /\[[^\]"']*\{/.test(l) || /\{[^}"']*\{/.test(l));
  return flowWithBrace ? ' (hint: inside [...] a value with { or } must be quoted, e.g. destinations: ["mirror.example.com/{repo}"])' : "";
}

/** Reads and validates a config file. */
export async function loadConfigFile(path: string): Promise<FerryConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new FerryError("INVALID_CONFIG", `cannot read config ${path}: ${(e as Error).message}`);
  }
  return parseConfigText(text, path);
}

/** Resolves a secret given inline or through an environment variable. */
export function secretFrom(value: string | undefined, envName: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (value) return value;
  if (envName) return env[envName];
  return undefined;
}
