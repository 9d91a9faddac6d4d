/**
 * The job-store and recovery suites on DynamoDB Local. Not run directly: state-ddblocal.test.ts runs this file
 * inside a network namespace whose only interface is loopback, because DynamoDB Local cannot be
 * told to bind 127.0.0.1 only.
 */
import { after, before } from "node:test";
import { type DynamoStandIn, startDynamoDbLocal } from "../helpers/dynamo.ts";
import { recoverySuite } from "../helpers/recovery-suite.ts";
import { jobStoreSuite } from "../helpers/state-suite.ts";

let ddb: DynamoStandIn;
before(async () => {
  ddb = await startDynamoDbLocal();
});
after(async () => {
  await ddb?.stop();
});
jobStoreSuite("DynamoDB Local", () => ddb.client);
recoverySuite("DynamoDB Local", () => ddb.client);
