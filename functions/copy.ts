/** Lambda: copy queue consumer (the fan-out). Copies one manifest by digest into one destination. */
import { runCopyTask } from "../lib/pipeline/copy-task.ts";
import { CopyMessageSchema } from "../lib/queue/messages.ts";
import { type HandlerContext, lambda } from "./runtime.ts";
import { sqsConsumer } from "./sqs-batch.ts";

export const createCopyHandler = (ctx: HandlerContext) =>
  sqsConsumer(
    ctx,
    CopyMessageSchema,
    async (msg, { runtime, receiveCount, maxReceiveCount, deadline, signal }) => {
      const m = runtime.metrics;
      let s: Awaited<ReturnType<typeof runCopyTask>>;
      try {
        s = await runCopyTask(
          runtime.deps,
          msg,
          { receiveCount, maxReceiveCount, deadline, signal },
          { resumeAboveBytes: runtime.deps.config.pipeline.resumeAboveBytes },
        );
      } catch (e) {
        m.add("copyAttemptsFailed", "Count", 1);
        throw e;
      }
      m.add("bytesCopied", "Bytes", s.bytes);
      m.add("blobsCopied", "Count", s.blobs.copied);
      m.add("blobsSkipped", "Count", s.blobs.skipped);
      m.add("blobsMounted", "Count", s.blobs.mounted);
      m.add("copyDuration", "Milliseconds", s.durationMs);
      if (s.outcome !== "paused") m.add(s.outcome === "failed" ? "tasksFailed" : "tasksDone", "Count", 1);
    },
    "copy",
  );

export const handler = createCopyHandler(lambda);
