/**
 * The in-process "workspace events were appended" signal. `WorkspaceRepo` fires it after the
 * transaction that inserted an event committed, so a listener that then reads the store sees the
 * event. It carries no data: listeners re-read the store from their own cursor, which also makes a
 * missed or coalesced signal harmless (event streams poll the store as a fallback too).
 */
export class EventNotifier {
  readonly #listeners = new Set<() => void>();
  #sequence = 0;

  /** How many signals were fired so far (for tests and diagnostics). */
  get sequence(): number {
    return this.#sequence;
  }

  /** Current subscribers; event streams subscribe for as long as their connection lasts. */
  get listenerCount(): number {
    return this.#listeners.size;
  }

  /** Calls `listener` after every later append until the returned function is called. */
  subscribe(listener: () => void): () => void {
    // A wrapper per subscription, so the same function subscribed twice is two subscriptions.
    const entry = () => listener();
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** Events were appended and committed. A throwing listener cannot stop the others. */
  notify(): void {
    this.#sequence++;
    for (const listener of [...this.#listeners]) {
      try {
        listener();
      } catch {
        // A listener's failure is its own business; the writer must not see it.
      }
    }
  }

  /**
   * Resolves true at the next signal, or false after `timeoutMs` or when `signal` aborts, whichever
   * comes first; never rejects, and always unsubscribes.
   */
  wait(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<boolean> {
    const { timeoutMs, signal } = options;
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (notified: boolean) => {
        unsubscribe();
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(notified);
      };
      const onAbort = () => finish(false);
      const unsubscribe = this.subscribe(() => finish(true));
      if (timeoutMs !== undefined) timer = setTimeout(() => finish(false), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
