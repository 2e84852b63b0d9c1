/**
 * The frames of Berth's streams (docs/streams.md), as pure functions: text frames are JSON control
 * messages, binary frames carry bytes. Command output frames start with a stream byte
 * (`STREAM_BYTES`: 1 stdout, 2 stderr); terminal output frames are raw bytes.
 */
import { STREAM_BYTES, type CommandInfo, type TerminalInfo } from '@berth/protocol';

export type OutputStream = 'stdout' | 'stderr';

/** Signals a command can be sent: a name the server knows, or a number 1-64. */
export type Signal = 'SIGHUP' | 'SIGINT' | 'SIGQUIT' | 'SIGKILL' | 'SIGUSR1' | 'SIGUSR2' | 'SIGTERM' | number;

/** What the server sends as text frames. */
export type ServerMessage =
  | { type: 'started'; command?: CommandInfo; terminal?: TerminalInfo; firstSeq?: number }
  | { type: 'exit'; exitCode: number | null; timedOut?: boolean }
  | { type: 'error'; code: string; message: string };

/** What the client sends as text frames. */
export type ClientMessage =
  | ({ type: 'start' } & Record<string, unknown>)
  | { type: 'stdin-close' }
  | { type: 'signal'; signal: Signal }
  | { type: 'kill' }
  | { type: 'resize'; cols: number; rows: number };

const STREAM_BY_BYTE: Record<number, OutputStream> = {
  [STREAM_BYTES.stdout]: 'stdout',
  [STREAM_BYTES.stderr]: 'stderr',
};

/** Splits a command output frame into its stream and bytes; undefined for an unknown stream byte. */
export function decodeOutputFrame(
  frame: ArrayBuffer | Uint8Array,
): { stream: OutputStream; data: Uint8Array } | undefined {
  const bytes = frame instanceof Uint8Array ? frame : new Uint8Array(frame);
  if (bytes.length === 0) return undefined;
  const stream = STREAM_BY_BYTE[bytes[0]!];
  return stream === undefined ? undefined : { stream, data: bytes.subarray(1) };
}

/** A command output frame (what the server sends); used by tests and fakes. */
export function encodeOutputFrame(stream: OutputStream, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + 1);
  out[0] = STREAM_BYTES[stream];
  out.set(data, 1);
  return out;
}

export function encodeMessage(message: ClientMessage): string {
  return JSON.stringify(message);
}

/** Parses a text frame from the server; undefined when it is not a JSON object with a `type`. */
export function decodeMessage(text: string): ServerMessage | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const type = (parsed as { type?: unknown }).type;
  if (typeof type !== 'string') return undefined;
  if (type === 'error') {
    const { code, message } = parsed as { code?: unknown; message?: unknown };
    return {
      type,
      code: typeof code === 'string' && code !== '' ? code : 'internal',
      message: typeof message === 'string' ? message : 'stream error',
    };
  }
  if (type === 'exit') {
    const { exitCode, timedOut } = parsed as { exitCode?: unknown; timedOut?: unknown };
    return {
      type,
      exitCode: typeof exitCode === 'number' ? exitCode : null,
      timedOut: timedOut === true,
    };
  }
  if (type === 'started') return parsed as ServerMessage;
  return undefined;
}

/** Keeps only defined values, so optional fields are left out of the JSON. */
export function defined<T extends Record<string, unknown>>(value: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [key, v] of Object.entries(value))
    if (v !== undefined) (out as Record<string, unknown>)[key] = v;
  return out;
}
