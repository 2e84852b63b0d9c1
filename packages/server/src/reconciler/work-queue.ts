/**
 * A keyed work queue in the style of Kubernetes controllers: a key is queued at most once, never
 * runs twice at the same time, runs again when it was queued while running (so no wake-up is lost),
 * and after a failed pass is retried with exponential backoff and full jitter. A bounded number of
 * keys run at once; each pass gets a deadline (its AbortSignal fires when the pass takes too long).
 */
export interface WorkQueueOptions {
  concurrency: number;
  /** First retry delay after a failure; doubles per consecutive failure up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Longest pass; its signal aborts then (the key stays busy until the pass really returns). */
  passTimeoutMs: number;
  /** [0, 1) source for jitter; injectable for tests. */
  random?: () => number;
}

export type PassFn = (key: string, signal: AbortSignal) => Promise<void>;

interface Waiter {
  resolve: (err: unknown) => void;
}

export class WorkQueue {
  private readonly ready: string[] = [];
  private readonly queued = new Set<string>();
  private readonly running = new Set<string>();
  /** Keys queued again while running: they go back in the queue when their pass ends. */
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  /** Callers waiting for the next pass of a key that starts after they asked. */
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly pendingWaiters = new Map<string, Waiter[]>();
  private started = false;
  private stopped = false;
  private readonly random: () => number;

  constructor(
    private readonly fn: PassFn,
    private readonly options: WorkQueueOptions,
  ) {
    this.random = options.random ?? Math.random;
  }

  /** Workers start only now: keys queued before (e.g. the start-up scan) wait for it. */
  start(): void {
    this.started = true;
    this.pump();
  }

  /**
   * Queues `key` (after `delayMs`, or now). The promise settles when a pass that started after this
   * call has finished: with undefined on success, or with the pass's error (it never rejects).
   */
  add(key: string, delayMs = 0): Promise<unknown> {
    const done = new Promise<unknown>((resolve) => {
      const list = this.pendingWaiters.get(key) ?? [];
      list.push({ resolve });
      this.pendingWaiters.set(key, list);
    });
    if (this.stopped) {
      this.flush(this.pendingWaiters, key, new Error('the reconciler is stopped'));
      return done;
    }
    this.schedule(key, delayMs);
    return done;
  }

  /** Queues `key` after `delayMs` without waiting; an earlier pending time wins. */
  addAfter(key: string, delayMs: number): void {
    if (!this.stopped) this.schedule(key, delayMs);
  }

  private schedule(key: string, delayMs: number): void {
    if (delayMs > 0) {
      const at = Date.now() + delayMs;
      const existing = this.timers.get(key);
      if (existing && existing.at <= at) return;
      if (existing) clearTimeout(existing.timer);
      const timer = setTimeout(() => {
        this.timers.delete(key);
        this.enqueueNow(key);
      }, delayMs);
      timer.unref();
      this.timers.set(key, { at, timer });
      return;
    }
    const pending = this.timers.get(key);
    if (pending) {
      clearTimeout(pending.timer);
      this.timers.delete(key);
    }
    this.enqueueNow(key);
  }

  private enqueueNow(key: string): void {
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.ready.push(key);
    this.pump();
  }

  private pump(): void {
    while (this.started && !this.stopped && this.running.size < this.options.concurrency) {
      const key = this.ready.shift();
      if (key === undefined) return;
      this.queued.delete(key);
      void this.run(key);
    }
  }

  private async run(key: string): Promise<void> {
    this.running.add(key);
    // Waiters that asked before this pass started are answered by it.
    const answering = this.pendingWaiters.get(key) ?? [];
    this.pendingWaiters.delete(key);
    this.waiters.set(key, answering);
    const abort = new AbortController();
    const deadline = setTimeout(
      () => abort.abort(new Error(`reconcile pass of ${key} exceeded ${this.options.passTimeoutMs} ms`)),
      this.options.passTimeoutMs,
    );
    deadline.unref();
    let error: unknown;
    try {
      await this.fn(key, abort.signal);
      if (abort.signal.aborted) error = abort.signal.reason;
    } catch (err) {
      error = err;
    } finally {
      clearTimeout(deadline);
      this.running.delete(key);
    }
    this.flush(this.waiters, key, error);
    if (error === undefined) {
      this.failures.delete(key);
    } else if (!this.stopped) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      this.schedule(key, this.backoff(n));
    }
    if (this.dirty.delete(key)) this.enqueueNow(key);
    this.pump();
  }

  /** Full jitter: a delay drawn from [cap/2, cap) where cap doubles per failure up to the maximum. */
  backoff(failures: number): number {
    const cap = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** Math.min(failures - 1, 30));
    return Math.floor(cap / 2 + (cap / 2) * this.random());
  }

  /** Consecutive failed passes of a key (0 after a success). */
  failureCount(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  isBusy(key: string): boolean {
    return this.running.has(key) || this.queued.has(key);
  }

  get size(): { queued: number; running: number; delayed: number } {
    return { queued: this.ready.length, running: this.running.size, delayed: this.timers.size };
  }

  /** Stops taking work; resolves once running passes end (or `timeoutMs`). Pending waiters get an error. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.ready.length = 0;
    this.queued.clear();
    for (const key of [...this.pendingWaiters.keys()])
      this.flush(this.pendingWaiters, key, new Error('the reconciler is stopped'));
    const until = Date.now() + timeoutMs;
    while (this.running.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }

  private flush(map: Map<string, Waiter[]>, key: string, result: unknown): void {
    const list = map.get(key);
    map.delete(key);
    for (const w of list ?? []) w.resolve(result);
  }
}
