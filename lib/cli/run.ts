/** Process entry of the `ferry` command: runs the CLI and sets the exit status. */
import { main } from "./main.ts";

process.exitCode = await main(process.argv.slice(2));
