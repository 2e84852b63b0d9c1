import { TimeoutError } from './errors.js';

/** A deadline of `timeoutMs` (0 or undefined: none) combined with the caller's signal. */
export function deadline(
  timeoutMs: number | undefined,
  signal: AbortSignal | undefined,
): AbortSignal | undefined {
  const signals: AbortSignal[] = [];
  if (signal) signals.push(signal);
  if (timeoutMs !== undefined && timeoutMs > 0 && Number.isFinite(timeoutMs)) {
    signals.push(AbortSignal.timeout(timeoutMs));
  }
  if (signals.length === 0) return undefined;
  if (signals.length === 1) return signals[0];
  return AbortSignal.any(signals);
}

/** Whether an abort reason comes from a timeout (ours or a caller's `AbortSignal.timeout`). */
export function isTimeoutReason(reason: unknown): boolean {
  return (
    reason instanceof TimeoutError ||
    (typeof reason === 'object' && reason !== null && (reason as { name?: unknown }).name === 'TimeoutError')
  );
}

/**
 * The error to throw when `signal` aborted: a `TimeoutError` for deadlines, otherwise the caller's
 * own abort reason, unchanged, as `fetch` does.
 */
export function abortError(signal: AbortSignal, what: string, timeoutMs: number | undefined): unknown {
  const reason: unknown = signal.reason;
  if (reason instanceof TimeoutError) return reason;
  if (isTimeoutReason(reason)) {
    const after = timeoutMs !== undefined && timeoutMs > 0 ? ` after ${timeoutMs}ms` : '';
    return new TimeoutError({ code: 'timeout', message: `${what} timed out${after}`, cause: reason });
  }
  return reason;
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A deadline whose timer can be stopped early while the caller's signal stays linked. */
export interface ResettableDeadline {
  signal: AbortSignal | undefined;
  /** Stops the timer; the caller's signal still aborts `signal`. */
  clear(): void;
  /** Stops the timer and unlinks the caller's signal. */
  release(): void;
}

/**
 * Like `deadline`, but the timer can be stopped once the part it bounds is over (e.g. response
 * headers arrived and the body is a stream the caller reads at its own pace).
 */
export function resettableDeadline(
  timeoutMs: number | undefined,
  signal: AbortSignal | undefined,
): ResettableDeadline {
  const hasTimeout = timeoutMs !== undefined && timeoutMs > 0 && Number.isFinite(timeoutMs);
  if (!hasTimeout) return { signal, clear: () => undefined, release: () => undefined };
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort(new DOMException('The operation timed out.', 'TimeoutError'));
  }, timeoutMs);
  const onAbort = (): void => {
    clearTimeout(timer);
    controller.abort(signal?.reason);
  };
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    clear: () => clearTimeout(timer),
    release: () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}
