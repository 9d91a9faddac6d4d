/**
 * Progress on stderr for `ferry copy`: live bars per blob with bytes and rate on a TTY, one line
 * per step otherwise, nothing with --quiet.
 */
import type { CopyEvent } from "../replicate/copy-session.ts";
import { formatBytes, shortDigest } from "./format.ts";

interface Active {
  digest: string;
  platform: string;
  size: number;
  bytes: number;
  started: number;
}

export interface ProgressDisplay {
  onEvent(e: CopyEvent): void;
  stop(): void;
}

/** Chooses the display for this stream. */
export function createProgress(stream: NodeJS.WriteStream, opts: { quiet?: boolean; tty?: boolean } = {}): ProgressDisplay {
  if (opts.quiet) return { onEvent() {}, stop() {} };
  return (opts.tty ?? stream.isTTY) ? new TtyProgress(stream) : new LineProgress(stream);
}

const LABEL: Record<string, string> = {
  copied: "copied",
  skipped: "exists, skipped",
  mounted: "mounted",
  "foreign-skipped": "foreign layer, not copied",
  "would-copy": "would copy",
  "would-mount": "would mount",
};

/** One line per step, for logs and pipes. */
class LineProgress implements ProgressDisplay {
  constructor(private readonly out: NodeJS.WriteStream) {}

  onEvent(e: CopyEvent): void {
    const line = describe(e);
    if (line) this.out.write(`${line}\n`);
  }

  stop(): void {}
}

function describe(e: CopyEvent): string | undefined {
  switch (e.type) {
    case "resolved":
      return `source ${shortDigest(e.digest)} ${e.mediaType}${e.platforms.length ? ` (${e.platforms.join(", ")})` : ""}`;
    case "up-to-date":
      return `destination is up to date (${shortDigest(e.digest)})`;
    case "blob":
      return e.action === "start"
        ? undefined
        : `blob ${shortDigest(e.digest)} ${formatBytes(e.size)}${e.platform ? ` [${e.platform}]` : ""}: ${LABEL[e.action] ?? e.action}`;
    case "manifest":
      return `manifest ${shortDigest(e.digest)} ${e.platform ? `[${e.platform}] ` : ""}${e.action === "pushed" ? "pushed" : e.action === "exists" ? "exists, skipped" : "would push"}`;
    case "referrer":
      return `referrer ${shortDigest(e.digest)} ${e.tag ? `cosign ${e.tag}` : (e.artifactType ?? "artifact")} of ${shortDigest(e.subject)}: ${e.action === "pushed" ? "copied" : e.action === "exists" ? "exists, skipped" : "would copy"}`;
    case "warning":
      return `warning: ${e.message}`;
    default:
      return undefined;
  }
}

/** Live bars, redrawn at most 10 times a second. */
class TtyProgress implements ProgressDisplay {
  private readonly active = new Map<string, Active>();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;
  private done = { blobs: 0, bytes: 0, skipped: 0, mounted: 0 };
  private readonly started = Date.now();

  constructor(private readonly out: NodeJS.WriteStream) {
    this.timer = setInterval(() => this.draw(), 100);
    this.timer.unref();
  }

  onEvent(e: CopyEvent): void {
    if (e.type === "blob") {
      if (e.action === "start") this.active.set(e.digest, { digest: e.digest, platform: e.platform, size: e.size, bytes: 0, started: Date.now() });
      else {
        this.active.delete(e.digest);
        if (e.action === "copied") {
          this.done.blobs++;
          this.done.bytes += e.size;
        } else if (e.action === "skipped") this.done.skipped++;
        else if (e.action === "mounted") this.done.mounted++;
      }
      return;
    }
    if (e.type === "bytes") {
      const a = this.active.get(e.digest);
      if (a) a.bytes = e.bytes;
      return;
    }
    const line = describe(e);
    if (line) this.print(line);
  }

  /** Prints a permanent line above the live area. */
  private print(line: string): void {
    this.clear();
    this.out.write(`${line}\n`);
    this.draw();
  }

  private clear(): void {
    if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}A\x1b[0J`);
    this.drawn = 0;
  }

  private draw(): void {
    this.clear();
    const width = Math.max(40, Math.min(this.out.columns ?? 80, 120));
    const lines: string[] = [];
    for (const a of [...this.active.values()].slice(0, 12)) {
      const frac = a.size > 0 ? Math.min(1, a.bytes / a.size) : 1;
      const secs = Math.max(0.001, (Date.now() - a.started) / 1000);
      const barWidth = 20;
      const bar = "█".repeat(Math.round(frac * barWidth)).padEnd(barWidth, "░");
      const label = `${a.platform || "blob"}`.padEnd(16).slice(0, 16);
      const line = `${label} ${shortDigest(a.digest)} ${bar} ${formatBytes(a.bytes).padStart(8)} / ${formatBytes(a.size).padEnd(8)} ${formatBytes(a.bytes / secs)}/s`;
      lines.push(line.slice(0, width - 1));
    }
    const elapsed = (Date.now() - this.started) / 1000;
    lines.push(
      `copied ${this.done.blobs} blobs (${formatBytes(this.done.bytes)}), skipped ${this.done.skipped}, mounted ${this.done.mounted} · ${elapsed.toFixed(1)}s`,
    );
    this.out.write(`${lines.join("\n")}\n`);
    this.drawn = lines.length;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }
}
