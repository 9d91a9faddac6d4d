/** `ferry inspect REF`: the tree of an image (index → platforms → config and layers). */
import { parseArgs } from "node:util";
import { FerryError } from "../errors.ts";
import type { Descriptor } from "../oci/manifest.ts";
import { formatPlatform } from "../oci/platform.ts";
import { formatLocation, parseLocation } from "../replicate/location.ts";
import { OciLayoutStore } from "../replicate/oci-layout.ts";
import { openStore } from "../replicate/open.ts";
import type { ImageSource } from "../replicate/ports.ts";
import { discoverReferrers } from "../replicate/referrers.ts";
import { formatBytes } from "./format.ts";
import { credsFlag, poolFromFlags, REGISTRY_HELP, REGISTRY_OPTIONS } from "./registry-flags.ts";

export const INSPECT_HELP = `Usage: ferry inspect [options] REF

Print an image's tree: the index, its platforms, and each manifest's config and layers with
sizes and media types, then what refers to any of them (cosign signatures, attestations and
SBOMs; OCI 1.1 referrers). REF is a registry reference or oci:PATH[:TAG].

Options:
  --json                 print the tree as JSON
  --referrers all|none   list what refers to the image (default all)
  --creds USER:PASS      credentials for REF's registry
  -h, --help             this help
${REGISTRY_HELP}

Examples:
  ferry inspect ghcr.io/org/app:v1
  ferry inspect --json oci:./build/app:dev
`;

/** A node of the tree. */
export interface InspectNode {
  mediaType: string;
  digest: string;
  size: number;
  platform?: string;
  artifactType?: string;
  annotations?: Record<string, string>;
  manifests?: InspectNode[];
  config?: Descriptor;
  layers?: Descriptor[];
  /** On the root: every referrer of a manifest of the tree, and theirs. */
  referrers?: Array<{ subject: string; digest: string; mediaType: string; size: number; artifactType?: string; via: string; tag?: string; depth: number }>;
}

/** Every manifest digest of the tree. */
function digestsOf(node: InspectNode): string[] {
  return [node.digest, ...(node.manifests ?? []).flatMap(digestsOf)];
}

/** Adds the referrers of every manifest of `tree` to it. */
async function withReferrers(source: ImageSource, tree: InspectNode): Promise<InspectNode> {
  const found = await discoverReferrers(source, digestsOf(tree));
  const referrers = found.referrers.map((r) => ({
    subject: r.subject,
    digest: r.descriptor.digest,
    mediaType: r.descriptor.mediaType,
    size: r.descriptor.size,
    ...(r.descriptor.artifactType ? { artifactType: r.descriptor.artifactType } : {}),
    via: r.via,
    ...(r.tag ? { tag: r.tag } : {}),
    depth: r.depth,
  }));
  return { ...tree, referrers };
}

/** Builds the tree under `ref` (children fetched by digest). */
export async function inspectTree(source: ImageSource, ref: string, desc?: Descriptor): Promise<InspectNode> {
  const raw = await source.manifestGet(ref);
  const m = raw.manifest;
  const node: InspectNode = {
    mediaType: raw.mediaType,
    digest: raw.digest,
    size: raw.bytes.byteLength,
    ...(desc?.platform ? { platform: formatPlatform(desc.platform) } : {}),
    ...(m.kind !== "schema1" && m.artifactType ? { artifactType: m.artifactType } : {}),
    ...(desc?.annotations ? { annotations: desc.annotations } : {}),
  };
  if (m.kind === "index") node.manifests = await Promise.all(m.manifests.map((d) => inspectTree(source, d.digest, d)));
  if (m.kind === "manifest") {
    node.config = m.config;
    node.layers = m.layers;
  }
  if (m.kind === "artifact") node.layers = m.blobs;
  return node;
}

function render(node: InspectNode, title: string): string {
  const out: string[] = [`${title}  ${node.digest}  ${node.mediaType}${node.manifests ? `  (${node.manifests.length} manifests)` : ""}`];
  const walk = (n: InspectNode, prefix: string) => {
    const kids: Array<{ line: string; node?: InspectNode }> = [];
    for (const c of n.manifests ?? []) {
      const ref = c.annotations?.["vnd.docker.reference.type"];
      kids.push({ line: `${c.platform ?? "-"}${ref ? ` (${ref})` : ""}  ${c.digest}  ${c.mediaType}  ${formatBytes(c.size)}`, node: c });
    }
    if (n.config) kids.push({ line: `config  ${n.config.digest}  ${formatBytes(n.config.size)}  ${n.config.mediaType}` });
    for (const [i, l] of (n.layers ?? []).entries()) {
      kids.push({ line: `layer ${i + 1}  ${l.digest}  ${formatBytes(l.size)}  ${l.mediaType}${l.urls ? "  (foreign)" : ""}` });
    }
    kids.forEach((k, i) => {
      const last = i === kids.length - 1;
      out.push(`${prefix}${last ? "└─ " : "├─ "}${k.line}`);
      if (k.node) walk(k.node, `${prefix}${last ? "   " : "│  "}`);
    });
  };
  walk(node, "");
  if (node.referrers?.length) out.push(`referrers (${node.referrers.length})`);
  for (const r of node.referrers ?? []) {
    const what = r.tag ? `cosign ${r.tag}` : `${r.artifactType ?? "artifact"} (${r.via === "api" ? "referrers API" : "fallback tag"})`;
    out.push(`${"  ".repeat(r.depth)}${r.digest}  ${what}  → ${r.subject}  ${formatBytes(r.size)}`);
  }
  return `${out.join("\n")}\n`;
}

/** Runs `ferry inspect`; returns the exit status. */
export async function runInspect(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: "boolean" },
      creds: { type: "string" },
      referrers: { type: "string" },
      help: { type: "boolean", short: "h" },
      ...REGISTRY_OPTIONS,
    },
  });
  if (values.help) {
    process.stdout.write(INSPECT_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new FerryError("USAGE", "inspect needs one REF; see 'ferry inspect --help'");
  if (values.referrers !== undefined && values.referrers !== "all" && values.referrers !== "none") {
    throw new FerryError("USAGE", `--referrers wants all or none, not ${JSON.stringify(values.referrers)}`);
  }
  let loc: ReturnType<typeof parseLocation>;
  try {
    loc = parseLocation(positionals[0] as string);
  } catch (e) {
    throw e instanceof FerryError ? new FerryError("USAGE", e.message) : e;
  }
  const pool = poolFromFlags(values);
  try {
    const source = openStore(loc, pool, "source", credsFlag(values.creds, "--creds"));
    const ref = loc.digest ?? loc.tag ?? (loc.kind === "oci" ? await new OciLayoutStore(loc.dir).onlyImage() : "latest");
    const bare = await inspectTree(source, ref);
    const tree = values.referrers === "none" ? bare : await withReferrers(source, bare);
    process.stdout.write(values.json ? `${JSON.stringify(tree, null, 2)}\n` : render(tree, formatLocation(loc)));
    return 0;
  } finally {
    await pool.close();
  }
}
