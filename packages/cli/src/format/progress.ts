import type { Progress } from '@berth/protocol';
import { formatBytes } from './units.js';

/** One line for a progress report: `image: pulling node:22  45.2 MB / 120.0 MB (38%)`. */
export function formatProgress(progress: Progress): string {
  const { current, total, unit } = progress;
  let amount = '';
  if (current !== undefined) {
    const show = (n: number): string => (unit === 'bytes' ? formatBytes(n) : String(n));
    if (unit === 'steps') {
      amount = total !== undefined ? `step ${current}/${total}` : `step ${current}`;
    } else if (total !== undefined && total > 0) {
      amount = `${show(current)} / ${show(total)} (${Math.min(100, Math.floor((current / total) * 100))}%)`;
    } else {
      amount = show(current);
    }
  }
  return `${progress.phase}: ${progress.message}${amount === '' ? '' : `  ${amount}`}`;
}

export interface ProgressSink {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/**
 * Shows progress on stderr: one line rewritten in place on a terminal; otherwise a plain line each time
 * the phase or message changes (byte counts alone do not print, so logs stay short).
 */
export class ProgressReporter {
  readonly #sink: ProgressSink;
  #lastPlain = '';
  #lineOpen = false;

  constructor(sink: ProgressSink) {
    this.#sink = sink;
  }

  update(progress: Progress): void {
    if (this.#sink.isTTY === true) {
      const width = Math.max(20, (this.#sink.columns ?? 80) - 1);
      const line = formatProgress(progress);
      this.#sink.write(`\r\x1b[2K${line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
      this.#lineOpen = true;
      return;
    }
    const key = `${progress.phase}: ${progress.message}`;
    if (key === this.#lastPlain) return;
    this.#lastPlain = key;
    this.#sink.write(`${formatProgress(progress)}\n`);
  }

  /** Clears the in-place line, if any, so what follows starts on a clean line. */
  done(): void {
    if (this.#lineOpen) this.#sink.write('\r\x1b[2K');
    this.#lineOpen = false;
  }
}
