import type { Duplex, Readable } from 'node:stream';

/** A chunk of a process's output, in the order the engine delivered it. */
export interface OutputChunk {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

/** What to run inside a container (exec) or in a one-shot container. */
export interface ProcessSpec {
  cmd: string[];
  user?: string;
  env?: string[];
  workingDir?: string;
  tty?: boolean;
}

/**
 * A running process with its streams. Output is pulled (async iteration), so a slow consumer
 * slows the engine connection instead of growing a buffer: memory stays bounded whatever the
 * process prints.
 */
export interface ProcessHandle {
  output(): AsyncIterable<OutputChunk>;
  /** Resolves when the engine accepted the bytes (backpressure). */
  writeStdin(data: Buffer): Promise<void>;
  /** Half-closes stdin: the process (or berth-helper) sees EOF. */
  endStdin(): void;
  resize(cols: number, rows: number): Promise<void>;
  /** The exit code, once the process ended. */
  wait(): Promise<number>;
  /** Drops the connection (and removes a one-shot container). Safe to repeat. */
  close(): Promise<void>;
}

/**
 * Parses Docker's multiplexed attach stream (8-byte frame headers: stream type, 3 zero bytes,
 * big-endian length) into chunks, preserving the order of frames across stdout and stderr.
 */
export async function* demuxFrames(source: Readable | Duplex): AsyncIterable<OutputChunk> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const piece of source as AsyncIterable<Buffer>) {
    pending = pending.length === 0 ? piece : Buffer.concat([pending, piece]);
    while (pending.length >= 8) {
      const size = pending.readUInt32BE(4);
      if (pending.length < 8 + size) break;
      const kind = pending[0];
      const data = pending.subarray(8, 8 + size);
      pending = pending.subarray(8 + size);
      if (size > 0 && (kind === 1 || kind === 2)) yield { stream: kind === 2 ? 'stderr' : 'stdout', data };
    }
  }
}

/** A TTY stream is not multiplexed: everything is stdout. */
export async function* rawFrames(source: Readable | Duplex): AsyncIterable<OutputChunk> {
  for await (const piece of source as AsyncIterable<Buffer>) yield { stream: 'stdout', data: piece };
}

/** Writes to a socket, resolving once it drained (or at once when it has room). */
export function writeWithBackpressure(socket: Duplex, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed || socket.writableEnded) {
      reject(new Error('stdin is closed'));
      return;
    }
    const ok = socket.write(data, (err) => (err ? reject(err) : undefined));
    if (ok) resolve();
    else socket.once('drain', () => resolve());
  });
}
