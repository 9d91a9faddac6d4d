/**
 * The Lambda shapes the local runtime invokes, declared structurally here (lib/ imports no
 * Lambda code): an SQS batch event and its partial-failure response, an HTTP API v2 event and
 * result, and the invocation context. functions/local.ts adapts the real handlers to them.
 */
import { randomUUID } from "node:crypto";

export interface LocalContext {
  callbackWaitsForEmptyEventLoop: boolean;
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  awsRequestId: string;
  logGroupName: string;
  logStreamName: string;
  getRemainingTimeInMillis(): number;
  done(): void;
  fail(): void;
  succeed(): void;
}

export interface LocalSqsRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: { ApproximateReceiveCount: string; SentTimestamp: string; SenderId: string; ApproximateFirstReceiveTimestamp: string };
  messageAttributes: Record<string, never>;
  md5OfBody: string;
  eventSource: string;
  eventSourceARN: string;
  awsRegion: string;
}

export interface LocalSqsEvent {
  Records: LocalSqsRecord[];
}

export interface LocalBatchResponse {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

export interface LocalHttpEvent {
  version: "2.0";
  routeKey: string;
  rawPath: string;
  rawQueryString: string;
  headers: Record<string, string>;
  queryStringParameters: Record<string, string>;
  requestContext: {
    accountId: string;
    apiId: string;
    domainName: string;
    domainPrefix: string;
    http: { method: string; path: string; protocol: string; sourceIp: string; userAgent: string };
    requestId: string;
    routeKey: string;
    stage: string;
    time: string;
    timeEpoch: number;
  };
  body: string;
  isBase64Encoded: boolean;
}

export interface LocalHttpResult {
  statusCode?: number;
  headers?: Record<string, string | number | boolean>;
  body?: string;
}

export type SqsHandler = (event: LocalSqsEvent, context: LocalContext) => Promise<LocalBatchResponse | undefined>;
export type HttpHandler = (event: LocalHttpEvent, context: LocalContext) => Promise<LocalHttpResult>;

/** A Lambda context for a local invocation with `timeoutMs` to run. */
export function localContext(functionName: string, timeoutMs: number): LocalContext {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: "1024",
    awsRequestId: randomUUID(),
    logGroupName: `/ferry/local/${functionName}`,
    logStreamName: "local",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
