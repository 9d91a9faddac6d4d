/**
 * The durable DynamoDB of `ferry serve`: dynalite in memory, with every write that succeeded
 * appended to a journal file before its answer leaves, and the journal replayed at start-up.
 * Reads run at memory speed (dynalite on its LevelDB store cost the pipeline a tenth of its
 * latency, all of it in reads); writes are applied one at a time, so the journal's order is the
 * order they took effect and a replay reproduces every conditional write's outcome.
 *
 * A journal line is `{"t": "<X-Amz-Target>", "b": "<request body>"}`. A line cut short by a
 * crash was never answered, so it is dropped. A journal over `compactAt` lines (at start-up, and
 * while running, every `compactAt` writes) is rewritten as one CreateTable per table and one
 * PutItem per item; items whose `ttl` has passed are left out and deleted from memory (DynamoDB's
 * TTL, applied at compaction).
 * What this keeps: every answered write survives `kill -9` (it is in the OS's page cache before
 * the answer); a power cut may lose the last ones, as with LevelDB's default.
 */
import { EventEmitter } from "node:events";
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { FerryError } from "../errors.ts";

const require = createRequire(import.meta.url);

/** Operations that change state: journaled when they succeed. */
const WRITES = new Set(["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "CreateTable", "UpdateTable", "DeleteTable", "UpdateTimeToLive"]);
const API = "DynamoDB_20120810";
/** Headers dynalite wants on a replayed request (it checks their shape, not a signature). */
const REPLAY_HEADERS = {
  "content-type": "application/x-amz-json-1.0",
  authorization: "AWS4-HMAC-SHA256 Credential=ferrylocal/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
  "x-amz-date": "20200101T000000Z",
};

type Handler = (req: unknown, res: unknown) => void;
interface Answer {
  status: number;
  headers: Record<string, string | number>;
  body: string;
}

export interface JournaledDynamo {
  endpoint: string;
  /** Lines replayed at start-up. */
  replayed: number;
  stop(): Promise<void>;
}

export interface JournaledDynamoOptions {
  /** Rewrite a journal longer than this at start-up (default 20,000 lines). */
  compactAt?: number;
  now?: () => number;
}

/** Runs one request through dynalite's handler without a socket. */
function invoke(handler: Handler, headers: Record<string, string>, body: Buffer): Promise<Answer> {
  return new Promise((resolve) => {
    const req = Object.assign(new EventEmitter(), { headers, method: "POST", url: "/" });
    const out: Record<string, string | number> = {};
    const res = {
      statusCode: 200,
      contentType: undefined as string | undefined,
      setHeader(k: string, v: string | number) {
        out[k.toLowerCase()] = v;
      },
      end(b?: string) {
        resolve({ status: res.statusCode, headers: out, body: b ?? "" });
      },
    };
    handler(req, res);
    process.nextTick(() => {
      if (body.length) req.emit("data", body);
      req.emit("end");
    });
  });
}

const replay = (handler: Handler, target: string, body: string) =>
  invoke(handler, { ...REPLAY_HEADERS, "x-amz-target": `${API}.${target}` }, Buffer.from(body));

/** Replays the journal's writes into the store; resolves to how many applied. A torn last line is dropped. */
async function replayJournal(handler: Handler, file: string): Promise<number> {
  if (!existsSync(file)) return 0;
  let replayed = 0;
  const lines = readFileSync(file, "utf8").split("\n");
  for (const [i, line] of lines.entries()) {
    if (!line) continue;
    let entry: { t: string; b: string };
    try {
      entry = JSON.parse(line) as { t: string; b: string };
    } catch {
      if (i >= lines.length - 2) break; // the last line, cut by a crash: never answered
      throw new FerryError("STATE_DAMAGED", `${file}: line ${i + 1} is not a journal entry; the data directory is damaged`);
    }
    const a = await replay(handler, entry.t, entry.b);
    if (a.status !== 200) throw new FerryError("STATE_DAMAGED", `${file}: line ${i + 1} (${entry.t}) no longer applies: ${a.body.slice(0, 200)}`);
    if (entry.t === "CreateTable" || entry.t === "UpdateTable") await untilActive(handler, (JSON.parse(entry.b) as { TableName: string }).TableName);
    replayed++;
  }
  return replayed;
}

/** The journal file: appends one write per line, and compacts itself every `compactAt` writes. */
class Journal {
  private fd: number;
  private written = 0;

  constructor(
    private readonly handler: Handler,
    private readonly file: string,
    private readonly compactAt: number,
    private readonly now: () => number,
  ) {
    this.fd = openSync(file, "a", 0o600);
  }

  /** Appends a write that the store applied; throws when it did not reach the disk. */
  append(target: string, body: Buffer): void {
    writeSync(this.fd, `${JSON.stringify({ t: target, b: body.toString("utf8") })}\n`);
  }

  /** Counts an applied write; between two writes (the state is still) rewrites the journal when due. */
  async applied(): Promise<void> {
    if (++this.written < this.compactAt) return;
    closeSync(this.fd);
    try {
      await compact(this.handler, this.file, this.now());
    } finally {
      this.fd = openSync(this.file, "a", 0o600);
      this.written = 0;
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

const JOURNAL_FAILED = (e: unknown): Answer => ({
  status: 500,
  headers: { "content-type": "application/x-amz-json-1.0" },
  body: JSON.stringify({ __type: "com.amazonaws.dynamodb.v20120810#InternalServerError", message: `journal: ${(e as Error).message}` }),
});

/** Answers reads at once; serializes writes, each journaled before it is answered. */
function journalingServer(handler: Handler, journal: Journal): { server: Server; drained: () => Promise<unknown> } {
  let writes: Promise<unknown> = Promise.resolve();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const headers = req.headers as Record<string, string>;
      const target = String(headers["x-amz-target"] ?? "").split(".")[1] ?? "";
      const send = (a: Answer) => {
        res.writeHead(a.status, a.headers);
        res.end(a.body);
      };
      if (!WRITES.has(target)) {
        void invoke(handler, headers, body).then(send);
        return;
      }
      writes = writes
        .then(async () => {
          const a = await invoke(handler, headers, body);
          if (a.status === 200) {
            try {
              journal.append(target, body);
            } catch (e) {
              // Not on disk: the caller must not take it as done (its retry meets the state in memory).
              send(JOURNAL_FAILED(e));
              return;
            }
          }
          send(a);
          // A long-running server compacts as it goes, in the write queue: nothing writes meanwhile.
          if (a.status === 200) await journal.applied();
        })
        .catch(() => undefined); // a client gone mid-answer must not stop the writes after it
    });
  });
  return { server, drained: () => writes };
}

/** Starts the store on 127.0.0.1, replaying (and compacting) the journal in `dir`. */
export async function startJournaledDynamo(dir: string, opts: JournaledDynamoOptions = {}): Promise<JournaledDynamo> {
  const dynalite = require("dynalite") as (o: object) => Server;
  const inner = dynalite({ createTableMs: 0, updateTableMs: 0, deleteTableMs: 0 });
  const handler = inner.listeners("request")[0] as Handler;
  const file = join(dir, "dynamodb.journal");
  const replayed = await replayJournal(handler, file);
  const compactAt = opts.compactAt ?? 20_000;
  const now = opts.now ?? Date.now;
  if (replayed > compactAt) await compact(handler, file, now());
  const journal = new Journal(handler, file, compactAt, now);
  const { server, drained } = journalingServer(handler, journal);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    replayed,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await drained();
      journal.close();
      await new Promise<void>((r) => inner.close(() => r()));
    },
  };
}

/** Waits until a created or updated table (and its indexes) is ACTIVE: dynalite gets there on a timer. */
async function untilActive(handler: Handler, name: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const a = await replay(handler, "DescribeTable", JSON.stringify({ TableName: name }));
    const t = (JSON.parse(a.body) as { Table?: { TableStatus?: string; GlobalSecondaryIndexes?: Array<{ IndexStatus?: string }> } }).Table;
    if (t?.TableStatus === "ACTIVE" && (t.GlobalSecondaryIndexes ?? []).every((g) => g.IndexStatus === "ACTIVE")) return;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new FerryError("INTERNAL", `journal replay: table ${name} did not become active`);
}

/** Rewrites the journal as the tables and their items, leaving out items whose `ttl` passed. */
async function compact(handler: Handler, file: string, now: number): Promise<void> {
  const call = async (target: string, body: object) => {
    const a = await replay(handler, target, JSON.stringify(body));
    if (a.status !== 200) throw new FerryError("INTERNAL", `journal compaction: ${target} failed: ${a.body.slice(0, 200)}`);
    return JSON.parse(a.body) as Record<string, unknown>;
  };
  const lines: string[] = [];
  const expired: Array<{ TableName: string; Key: Record<string, unknown> }> = [];
  const { TableNames = [] } = (await call("ListTables", {})) as { TableNames?: string[] };
  for (const name of TableNames) {
    const t = (await call("DescribeTable", { TableName: name })).Table as {
      AttributeDefinitions: unknown;
      KeySchema: unknown;
      GlobalSecondaryIndexes?: Array<{ IndexName: string; KeySchema: unknown; Projection: unknown }>;
    };
    const keys = (t.KeySchema as Array<{ AttributeName: string }>).map((k) => k.AttributeName);
    const gsis = t.GlobalSecondaryIndexes?.map((g) => ({ IndexName: g.IndexName, KeySchema: g.KeySchema, Projection: g.Projection }));
    const create = {
      TableName: name,
      AttributeDefinitions: t.AttributeDefinitions,
      KeySchema: t.KeySchema,
      BillingMode: "PAY_PER_REQUEST",
      ...(gsis?.length ? { GlobalSecondaryIndexes: gsis } : {}),
    };
    lines.push(JSON.stringify({ t: "CreateTable", b: JSON.stringify(create) }));
    let start: unknown;
    do {
      const page = (await call("Scan", { TableName: name, ...(start ? { ExclusiveStartKey: start } : {}) })) as {
        Items?: Array<Record<string, { N?: string }>>;
        LastEvaluatedKey?: unknown;
      };
      for (const item of page.Items ?? []) {
        const ttl = Number(item.ttl?.N);
        if (Number.isFinite(ttl) && ttl * 1000 < now) {
          expired.push({ TableName: name, Key: Object.fromEntries(keys.map((k) => [k, item[k]])) });
          continue;
        }
        lines.push(JSON.stringify({ t: "PutItem", b: JSON.stringify({ TableName: name, Item: item }) }));
      }
      start = page.LastEvaluatedKey;
    } while (start);
  }
  const tmp = `${file}.compacting`;
  const fd = openSync(tmp, "w", 0o600);
  writeSync(fd, lines.length ? `${lines.join("\n")}\n` : "");
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, file);
  // DynamoDB's TTL in memory too: the journal no longer has them.
  for (const key of expired) await call("DeleteItem", key);
}
