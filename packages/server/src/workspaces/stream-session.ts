import type { OutputChunk, ProcessHandle } from '../engine/process.js';

export interface SequencedChunk extends OutputChunk {
  seq: number;
}

/**
 * The most recent output of a session, up to `capacityBytes`, with sequence numbers so a client
 * that re-attaches gets what is still buffered, then live output, without gaps or repeats.
 */
export class OutputBuffer {
  private readonly chunks: SequencedChunk[] = [];
  private bytes = 0;
  private next = 0;

  constructor(private readonly capacityBytes: number) {}

  push(chunk: OutputChunk): SequencedChunk {
    const item = { ...chunk, seq: this.next++ };
    this.chunks.push(item);
    this.bytes += chunk.data.length;
    while (this.bytes > this.capacityBytes && this.chunks.length > 1) {
      this.bytes -= this.chunks.shift()!.data.length;
    }
    return item;
  }

  /** Everything still held, oldest first. */
  snapshot(): SequencedChunk[] {
    return [...this.chunks];
  }

  /**
   * The sequence number of the first chunk a client attaching with `afterSeq` receives: frames to
   * an attached client are gapless, so it can count from here.
   */
  firstSeqAfter(afterSeq: number): number {
    return this.chunks.find((c) => c.seq > afterSeq)?.seq ?? this.next;
  }
}

export type OutputListener = (chunk: SequencedChunk) => Promise<void>;

/**
 * A process whose output outlives any one client: it is read continuously into a bounded buffer
 * and fanned out to attached listeners. Reading waits for the listeners (pull), so a slow client
 * slows the engine stream instead of growing memory; with no client, old output is dropped.
 */
export abstract class StreamSession {
  readonly startedAt = new Date();
  readonly buffer: OutputBuffer;
  exitCode: number | null = null;
  finishedAt: number | null = null;
  readonly done: Promise<void>;
  private readonly listeners = new Set<OutputListener>();
  private readonly exitListeners = new Set<() => void>();

  protected constructor(
    protected readonly handle: ProcessHandle,
    bufferBytes: number,
  ) {
    this.buffer = new OutputBuffer(bufferBytes);
    this.done = this.pump();
  }

  get running(): boolean {
    return this.exitCode === null;
  }

  get attachedCount(): number {
    return this.listeners.size;
  }

  private async pump(): Promise<void> {
    // Let the subclass constructor finish before output can reach its hooks.
    await Promise.resolve();
    try {
      for await (const chunk of this.handle.output()) {
        const item = this.buffer.push(chunk);
        await Promise.all([...this.listeners].map((l) => l(item).catch(() => this.listeners.delete(l))));
      }
      this.exitCode = await this.handle.wait().catch(() => -1);
    } catch {
      this.exitCode ??= -1;
    } finally {
      this.finishedAt = Date.now();
      this.onFinished();
      await this.handle.close();
      for (const l of this.exitListeners) l();
    }
  }

  /** Called once when the process has ended. */
  protected onFinished(): void {}

  /** Called when the last listener detached. */
  protected onIdle(): void {}

  /** Replays buffered output after `afterSeq`, then delivers live output, until detached. */
  attach(listener: OutputListener, afterSeq = -1): () => void {
    for (const item of this.buffer.snapshot()) if (item.seq > afterSeq) void listener(item);
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.onIdle();
    };
  }

  onExit(fn: () => void): () => void {
    if (!this.running) {
      fn();
      return () => {};
    }
    this.exitListeners.add(fn);
    return () => this.exitListeners.delete(fn);
  }
}
