/**
 * The README's benchmark table comes from bench/results.md, never by hand: this replaces what
 * stands between `<!-- bench:start -->` and `<!-- bench:end -->` in README.md with the results
 * (up to their raw runs). `npm run bench` runs it after writing the results; `--check` only says
 * whether the README matches (the unit test asks the same).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const START = "<!-- bench:start -->";
const END = "<!-- bench:end -->";

/** The part of results.md the README shows: everything before the raw runs. */
export function summaryOf(results: string): string {
  const cut = results.indexOf("\n## Raw runs");
  return (cut < 0 ? results : results.slice(0, cut)).trim();
}

/** The README with its benchmark block replaced by `results`' summary. */
export function withBench(readme: string, results: string): string {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md lacks the ${START} … ${END} block`);
  return `${readme.slice(0, a + START.length)}\n${summaryOf(results)}\n${readme.slice(b)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const readme = readFileSync(`${root}README.md`, "utf8");
  const next = withBench(readme, readFileSync(`${root}bench/results.md`, "utf8"));
  if (process.argv.includes("--check")) {
    if (next !== readme) {
      process.stderr.write("README.md's benchmark block differs from bench/results.md; run: node --import tsx scripts/readme-bench.ts\n");
      process.exit(1);
    }
  } else if (next !== readme) writeFileSync(`${root}README.md`, next);
}
