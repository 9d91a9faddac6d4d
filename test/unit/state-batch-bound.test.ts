/**
 * putTasks gives up after a bounded number of batch writes when DynamoDB keeps returning
 * UnprocessedItems (sustained throttling), with a retryable error: the delivery comes back later.
 * No stand-in throttles, so the client here answers like a throttled table.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { FerryError } from "../../lib/errors.ts";
import { DynamoJobStore } from "../../lib/state/dynamodb.ts";

it("sustained UnprocessedItems end in a retryable error after a bounded number of batch writes", async () => {
  let calls = 0;
  const throttled = {
    send: async (command: { input: { RequestItems: Record<string, unknown[]> } }) => {
      calls++;
      return { UnprocessedItems: command.input.RequestItems }; // nothing was written
    },
  } as unknown as DynamoDBClient;
  const store = new DynamoJobStore(throttled, { tableName: "t" });
  const task = {
    id: "t0",
    platform: "linux/amd64",
    digest: `sha256:${"0".repeat(64)}`,
    mediaType: "m",
    size: 1,
    destination: "d/r",
    state: "pending" as const,
  };
  await assert.rejects(store.putTasks("j", [task]), (e: unknown) => e instanceof FerryError && e.code === "INTERNAL" && e.retryable);
  assert.equal(calls, 8);
});
