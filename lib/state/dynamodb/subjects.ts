/**
 * Subjects on DynamoDB: one `SUBJ#<source>@<digest>/SUBJ` item per source manifest, string sets
 * `dests` and `held` grown by ADD (idempotent); taking the held jobs is one `REMOVE held` that
 * returns what it removed, so of concurrent takers only one ever sees a given job.
 */
import { forEachLimit } from "../../replicate/limiter.ts";
import { GetItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { SubjectRecords } from "../store.ts";
import { toItem } from "./codec.ts";
import { type DynamoTable, updateIf } from "./context.ts";
import { subjectKey } from "./table.ts";

/** UpdateItems `addReplicas` keeps in flight at once: an index with many children stays gentle on the table. */
export const REPLICA_WRITES_IN_FLIGHT = 8;

/** The subject item's sets as `unmarshall` gives them. */
interface SubjectRow {
  dests?: Set<string>;
  held?: Set<string>;
}

export class DynamoSubjects implements SubjectRecords {
  private readonly t: DynamoTable;

  constructor(t: DynamoTable) {
    this.t = t;
  }

  async addReplicas(source: string, digests: string[], destination: string): Promise<void> {
    await forEachLimit([...new Set(digests)], REPLICA_WRITES_IN_FLIGHT, (digest) => this.add(source, digest, "dests", destination));
  }

  async replicasOf(source: string, digest: string): Promise<string[]> {
    const out = await this.t.db.send(
      new GetItemCommand({ TableName: this.t.name, Key: subjectKey(source, digest), ConsistentRead: true, ProjectionExpression: "dests" }),
    );
    return out.Item ? [...((unmarshall(out.Item) as SubjectRow).dests ?? [])] : [];
  }

  holdForSignature(source: string, digest: string, jobId: string): Promise<void> {
    return this.add(source, digest, "held", jobId);
  }

  async takeHeld(source: string, digest: string): Promise<string[]> {
    // Removing the set and reading it are one write: a second taker finds no `held` and gets none.
    const old = await updateIf(this.t, {
      key: subjectKey(source, digest),
      update: "REMOVE held",
      condition: "attribute_exists(held)",
      returnValues: "UPDATED_OLD",
    });
    return old ? [...((unmarshall(old) as SubjectRow).held ?? [])] : [];
  }

  /** Adds `value` to the string set `set` of the subject item (made when absent). */
  private async add(source: string, digest: string, set: "dests" | "held", value: string): Promise<void> {
    await this.t.db.send(
      new UpdateItemCommand({
        TableName: this.t.name,
        Key: subjectKey(source, digest),
        UpdateExpression: `ADD ${set} :v`,
        ExpressionAttributeValues: toItem({ ":v": new Set([value]) }),
      }),
    );
  }
}
