/** `ferry config check FILE [REF...]`: validates a config and shows what each rule would do for sample references. */
import { parseArgs } from "node:util";
import { loadConfigFile } from "../config.ts";
import { FerryError } from "../errors.ts";
import { parseReference } from "../oci/reference.ts";
import { matchRules } from "../rules/match.ts";
import { tagAllowed } from "../rules/tags.ts";

export const CONFIG_CHECK_HELP = `Usage: ferry config check FILE [REF...] [--json]

Validates a ferry config (the same checks as ferry serve and the CDK stack: every field, every
rule, YAML syntax with the line and column at fault) and, for each sample reference given
(host/repository[:tag]), prints which rules match it and where it would be replicated.

Exit status: 0 valid, 1 invalid (the message names the field or the line), 2 usage error.

Example:
  ferry config check ferry.yml registry.example.com/team/api:v1.2.0
`;

export async function runConfigCheck(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    process.stdout.write(CONFIG_CHECK_HELP);
    return 0;
  }
  const [file, ...refs] = positionals;
  if (!file) throw new FerryError("USAGE", "config check needs a FILE; see 'ferry config check --help'");
  const config = await loadConfigFile(file);
  const samples = refs.map((r) => {
    const ref = parseReference(r, { defaultTag: false });
    const input = { registry: ref.registry, repository: ref.repository, ...(ref.tagName ? { tag: ref.tagName } : {}) };
    const matches = matchRules(config.rules, input).map((m) => ({
      rule: m.rule.name,
      destinations: m.destinations,
      ...(input.tag && !tagAllowed(m.rule, input.tag) ? { tagExcluded: true } : {}),
    }));
    return { reference: r, matches };
  });
  const summary = {
    valid: true,
    file,
    registries: config.registries.length,
    webhooks: config.webhooks.length,
    rules: config.rules.map((r) => r.name),
    samples,
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return 0;
  }
  const lines = [`${file}: valid — ${config.rules.length} rules, ${config.webhooks.length} webhooks, ${config.registries.length} registries`];
  for (const s of samples) {
    if (s.matches.length === 0) lines.push(`${s.reference}: no rule matches; a webhook for it is ignored`);
    for (const m of s.matches) {
      lines.push(
        `${s.reference}: rule ${m.rule}${m.tagExcluded ? " matches the repository, but its tag filter excludes this tag" : ` → ${m.destinations.join(", ")}`}`,
      );
    }
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}
