/**
 * The README's command extraction (test/helpers/readme-commands.ts) on tables, and the commands
 * the README's "Set up" section and prose name without running them: the set-up commands are
 * package.json scripts and what `.ci/run` runs (running them here would run `npm test` inside
 * `npm test`), every inline `npm run X` is a script, every `npx X` an installed tool, every
 * `node PATH` a file of the checkout. test/integration/readme-commands.test.ts runs the rest.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  extractCommands,
  helpFlags,
  hostsIn,
  positionals,
  setUpCommands,
  shellWords,
  shownLinePattern,
  splitChain,
  stripComment,
} from "../helpers/readme-commands.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
const ci = readFileSync(join(ROOT, ".ci/run"), "utf8");

const SAMPLE = [
  "Text `ferry copy a b` inline is not a block.",
  "```sh",
  "# a whole-line comment",
  "curl -s 'http://h/x?a=1#frag'   # the list",
  "ferry copy --platform linux/amd64 \\",
  "  ghcr.io/org/app:v1 127.0.0.1:5000/app:v1",
  "```",
  "```console",
  "$ SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) ferry push --json ./rootfs oci:./build/app:v1",
  "$ ferry config check f.yml r.example.com/a:v1",
  "f.yml: valid",
  "r.example.com/a:v1: rule m → d.example.com/a",
  "```",
  "```",
  " webhook ─┐",
  "ferry backfill --config FILE [--rule NAME] [--dry-run | --server URL]",
  "```",
  "```yaml",
  "rules: []",
  "```",
].join("\n");

describe("extractCommands", () => {
  const got = extractCommands(SAMPLE);
  it("finds sh lines, console prompts with their output, and command lines of plain blocks", () => {
    assert.deepEqual(
      got.map((c) => [c.line, c.lang, c.block, c.text, c.synopsis]),
      [
        [4, "sh", 0, "curl -s 'http://h/x?a=1#frag'", false],
        [5, "sh", 0, "ferry copy --platform linux/amd64 ghcr.io/org/app:v1 127.0.0.1:5000/app:v1", false],
        [9, "console", 1, "SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) ferry push --json ./rootfs oci:./build/app:v1", false],
        [10, "console", 1, "ferry config check f.yml r.example.com/a:v1", false],
        [16, "", 2, "ferry backfill --config FILE [--rule NAME] [--dry-run | --server URL]", true],
      ],
    );
    assert.deepEqual(got[3]?.output, ["f.yml: valid", "r.example.com/a:v1: rule m → d.example.com/a"]);
    assert.deepEqual(got[2]?.output, []);
  });
  it("splits a command as the shell does: env prefixes, quotes, $(...), chains", () => {
    assert.deepEqual(splitChain(got[2]?.text ?? ""), [
      { env: { SOURCE_DATE_EPOCH: "$(git log -1 --format=%ct)" }, argv: ["ferry", "push", "--json", "./rootfs", "oci:./build/app:v1"] },
    ]);
    assert.deepEqual(splitChain("npm ci && npm test"), [
      { env: {}, argv: ["npm", "ci"] },
      { env: {}, argv: ["npm", "test"] },
    ]);
    assert.deepEqual(shellWords(`curl -d '{"reason": "x y"}' "a \\"b\\"" c\\ d`), ["curl", "-d", '{"reason": "x y"}', 'a "b"', "c d"]);
  });
});

it("stripComment keeps a # inside quotes, $(...) and words", () => {
  const table: Array<[string, string]> = [
    ["ferry jobs list   # recent", "ferry jobs list"],
    ["echo 'a # b' # c", "echo 'a # b'"],
    ['echo "$(printf "#")" x#y', 'echo "$(printf "#")" x#y'],
  ];
  for (const [line, want] of table) assert.equal(stripComment(line), want, line);
});

it("helpFlags reads options and whether they take a value; positionals skips those values", () => {
  const help = "Options:\n  --platform OS/ARCH  only these\n  --merge             keep\n  -q, --quiet         quiet\n  --jobs N            n\n";
  const flags = helpFlags(help);
  assert.deepEqual(
    [...flags],
    [
      ["--platform", true],
      ["--merge", false],
      ["--quiet", false],
      ["-q", false],
      ["--jobs", true],
    ],
  );
  assert.deepEqual(positionals(["--platform", "linux/arm64", "-q", "--jobs=2", "src", "--merge", "dst"], flags), ["src", "dst"]);
  assert.deepEqual(hostsIn("ferry copy oci:./a/b:v1 ghcr.io/o/a:v1 127.0.0.1:5000/a docker.io/library/x:1 infra/f.yml"), [
    "ghcr.io",
    "127.0.0.1:5000",
    "docker.io",
  ]);
});

it('the "Set up" commands are package.json scripts, and the test command is what .ci/run runs', () => {
  const setUp = setUpCommands(readme);
  assert.deepEqual(
    setUp.map((c) => c.text),
    ["npm ci && npm run demo", "npm ci && npm test"],
  );
  const ciCommands = ci
    .split("\n")
    .filter((l) => l.trim() && !l.startsWith("#"))
    .flatMap((l) => splitChain(l).map((s) => s.argv.join(" ")));
  for (const c of setUp) {
    for (const { argv } of splitChain(c.text)) {
      assert.equal(argv[0], "npm", c.text);
      const script = argv[1] === "run" ? argv[2] : argv[1];
      if (script === "ci") continue;
      assert.ok(pkg.scripts[script ?? ""], `README line ${c.line}: npm ${argv.slice(1).join(" ")}: no such script`);
      // The README promises that missing Debian tools are installed (or named) first.
      assert.match(pkg.scripts[`pre${script}`] ?? "", /ensure-tools/, `pre${script} provisions the tools`);
    }
  }
  const testRow = setUp.find((c) => /npm test/.test(c.text));
  for (const { argv } of splitChain(testRow?.text ?? "")) {
    assert.ok(
      ciCommands.some((l) => l === argv.join(" ") || l.startsWith(`${argv.join(" ")} `)),
      `.ci/run runs ${argv.join(" ")} (it runs: ${ciCommands.join("; ")})`,
    );
  }
  assert.ok(existsSync(join(ROOT, /scripts\/\S+/.exec(pkg.scripts.demo ?? "")?.[0] ?? "missing")), "the demo script's file exists");
});

it("every inline `npm run X` in the README is a script, every `npx X` an installed tool, every `node PATH` a file", () => {
  const spans = [...readme.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] as string);
  const simple = [...spans, ...extractCommands(readme).map((c) => c.text)].flatMap((s) => splitChain(s));
  let checked = 0;
  for (const { argv } of simple) {
    if (argv[0] === "npm" && argv[1] === "run" && argv[2]) {
      assert.ok(pkg.scripts[argv[2]], `npm run ${argv[2]}: no such script in package.json`);
      checked++;
    } else if (argv[0] === "npx" && argv[1]) {
      assert.ok(existsSync(join(ROOT, "node_modules/.bin", argv[1])), `npx ${argv[1]}: not installed by npm ci`);
      checked++;
    } else if (argv[0] === "node" && argv[1] && !argv[1].startsWith("-")) {
      assert.ok(existsSync(join(ROOT, argv[1])), `node ${argv[1]}: no such file`);
      checked++;
    }
  }
  assert.ok(checked >= 8, `${checked} checked`);
});

it("shownLinePattern: ids, digests, numbers and … in shown output match anything; words must match", () => {
  const shown = "3f2c…  succeeded  127.0.0.1:5001/app:v1 → sha256:ab12…  (2 platforms, 1.5 s)";
  const table: Array<[string, boolean]> = [
    ["3f2c9a1b-0000-4000-8000-000000000000  succeeded  127.0.0.1:40123/app:v1 → sha256:ffee00  (3 platforms, 0.2 s)", true],
    ["3f2c9a1b  failed  127.0.0.1:40123/app:v1 → sha256:ffee00  (3 platforms, 0.2 s)", false],
  ];
  for (const [printed, want] of table) assert.equal(shownLinePattern(shown).test(printed), want, printed);
});
