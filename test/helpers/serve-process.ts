/** `ferry serve` as a child process: started until it prints its URL, stopped with SIGTERM. */
import { type ChildProcess, spawn } from "node:child_process";

/**
 * Runs `node <entry> serve --config <config> --port <port>` (entry: bin/ferry.js or the bundle)
 * and resolves once it prints `listening on`; rejects if it exits first.
 */
export async function spawnServe(
  entry: string,
  config: string,
  port: number,
  opts: {
    env?: NodeJS.ProcessEnv;
    inheritStderr?: boolean;
    /** More arguments after `--port N` (e.g. `--data-dir D`). */
    args?: string[];
    /** Receives stderr from the start (unless inherited), so a failed start can say why. */
    onStderr?: (chunk: Buffer) => void;
    /** Kills the child and rejects when it is not listening by then. */
    timeoutMs?: number;
  } = {},
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [entry, "serve", "--config", config, "--port", String(port), ...(opts.args ?? [])], {
    env: opts.env ?? process.env,
    stdio: ["ignore", "pipe", opts.inheritStderr ? "inherit" : "pipe"],
  });
  if (opts.onStderr) child.stderr?.on("data", opts.onStderr);
  let timer: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      if (d.toString().includes("listening on")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`ferry serve exited with ${code} before listening`)));
    if (opts.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`ferry serve not listening after ${opts.timeoutMs} ms`));
      }, opts.timeoutMs);
    }
  }).finally(() => clearTimeout(timer));
  return child;
}

/** SIGTERM, then the exit code once it has stopped. */
export async function stopServe(child: ChildProcess | undefined): Promise<number | null> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  child.kill("SIGTERM");
  return exited;
}
