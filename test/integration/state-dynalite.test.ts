/** The job-store and recovery suites on dynalite, in process (the embedded default of `ferry serve`). */
import { after, before } from "node:test";
import { type DynamoStandIn, startDynalite } from "../helpers/dynamo.ts";
import { recoverySuite } from "../helpers/recovery-suite.ts";
import { jobStoreSuite } from "../helpers/state-suite.ts";

let ddb: DynamoStandIn;
before(async () => {
  ddb = await startDynalite();
});
after(async () => {
  await ddb?.stop();
});
jobStoreSuite("dynalite", () => ddb.client);
recoverySuite("dynalite", () => ddb.client);
