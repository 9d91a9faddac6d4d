/** The table's definition: `ensureTable` creates it with its indexes (the local runtime and tests), or adds the `active` index to a table made before it. */
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient, ResourceNotFoundException, UpdateTableCommand } from "@aws-sdk/client-dynamodb";
import { FerryError } from "../../errors.ts";

/** Polls of a new table's status (100 ms apart) before it is an error. */
const ACTIVE_POLLS = 100;

const ACTIVE_INDEX = {
  IndexName: "active",
  KeySchema: [
    { AttributeName: "activeShard", KeyType: "HASH" as const },
    { AttributeName: "createdAt", KeyType: "RANGE" as const },
  ],
  Projection: { ProjectionType: "KEYS_ONLY" as const },
};

/** A table made before the reconciler's index existed gets it. */
async function addActiveIndex(db: DynamoDBClient, tableName: string): Promise<void> {
  await db.send(
    new UpdateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [
        { AttributeName: "activeShard", AttributeType: "S" },
        { AttributeName: "createdAt", AttributeType: "S" },
      ],
      GlobalSecondaryIndexUpdates: [{ Create: ACTIVE_INDEX }],
    }),
  );
}

async function createTable(db: DynamoDBClient, tableName: string): Promise<void> {
  await db.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [
        { AttributeName: "pk", AttributeType: "S" },
        { AttributeName: "sk", AttributeType: "S" },
        { AttributeName: "gsi1pk", AttributeType: "S" },
        { AttributeName: "gsi1sk", AttributeType: "S" },
        { AttributeName: "activeShard", AttributeType: "S" },
        { AttributeName: "createdAt", AttributeType: "S" },
      ],
      KeySchema: [
        { AttributeName: "pk", KeyType: "HASH" },
        { AttributeName: "sk", KeyType: "RANGE" },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: "gsi1",
          KeySchema: [
            { AttributeName: "gsi1pk", KeyType: "HASH" },
            { AttributeName: "gsi1sk", KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "ALL" },
        },
        ACTIVE_INDEX,
      ],
    }),
  );
}

/** Creates the table (and its indexes) when it does not exist, and waits (bounded) until it is active. */
export async function ensureTable(db: DynamoDBClient, tableName: string): Promise<void> {
  try {
    const d = await db.send(new DescribeTableCommand({ TableName: tableName }));
    if (!d.Table?.GlobalSecondaryIndexes?.some((i) => i.IndexName === "active")) await addActiveIndex(db, tableName);
    return;
  } catch (e) {
    if (!(e instanceof ResourceNotFoundException)) throw e;
  }
  await createTable(db, tableName);
  for (let i = 0; i < ACTIVE_POLLS; i++) {
    const d = await db.send(new DescribeTableCommand({ TableName: tableName }));
    if (d.Table?.TableStatus === "ACTIVE") return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new FerryError("INTERNAL", `table ${tableName} was not active ${ACTIVE_POLLS / 10} s after it was created`, { retryable: true });
}
