/**
 * Process entry of the `ferry` command, and its composition root: the CLI (lib/cli) gets the
 * pipeline's handlers for `ferry serve` from here, so lib/ never imports functions/.
 */
import { main } from "../lib/cli/main.ts";

process.exitCode = await main(process.argv.slice(2), {
  // Loaded on demand: the pipeline brings the AWS SDK, middy and Powertools, which `ferry copy`
  // should not pay for at start-up.
  serveHandlers: async (settings) => (await import("../functions/local.ts")).createLocalHandlers(settings),
});
