/** A counting semaphore: at most `n` tasks run at once, the rest wait in order. */
export class Limiter {
  private active = 0;
  private readonly queue: Array<() => void> = [];
  readonly size: number;

  constructor(n: number) {
    this.size = Math.max(1, n);
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}
