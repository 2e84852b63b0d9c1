import type { CommandInfo, ExecInput, ExecResult } from '@berth/protocol';
import { abortError } from './abort.js';
import { CappedBytes, Utf8StreamDecoder, toBytes } from './bytes.js';
import type { HttpClient, RequestOptions } from './client.js';
import { BerthError, CommandExitError, ConnectionError } from './errors.js';
import { defined, decodeOutputFrame, type OutputStream, type ServerMessage, type Signal } from './frames.js';
import { StreamSocket } from './stream-socket.js';

/** What a command produced: as `POST …/exec` answers it, also for streamed commands. */
export type CommandResult = ExecResult;

/** Output kept per stream by streamed commands unless `maxOutputBytes` says otherwise (10 MiB). */
export const DEFAULT_STREAM_OUTPUT_BYTES = 10 * 1024 * 1024;

/** How long `commands.kill()` may take: the server waits up to 10 s for the tree to die. */
const KILL_TIMEOUT_MS = 30_000;
/** Extra client-side time on top of a one-shot command's own timeout. */
const EXEC_GRACE_MS = 30_000;

/** Callbacks for a command's output, in the order the server delivers it. */
export interface OutputCallbacks {
  /** Decoded UTF-8 text of stdout; a character split across frames is delivered whole. */
  onStdout?: (data: string) => void;
  onStderr?: (data: string) => void;
  /** The raw bytes of either stream (binary-safe), before `onStdout`/`onStderr` of the same frame. */
  onData?: (data: Uint8Array, stream: OutputStream) => void;
}

export interface CommandOptions extends OutputCallbacks {
  /** Absolute working directory inside the workspace (default `/workspace`). */
  cwd?: string;
  env?: Record<string, string>;
  /** Numeric `uid[:gid]`; tiers 1-2 refuse uid 0. */
  user?: string;
  /**
   * The command's own time limit in ms, enforced by the server: on expiry the whole process tree is
   * killed and the result has `timedOut: true`. Default: none for streamed and background commands,
   * the server's `commands.execTimeoutMs` (60 s) for one-shot ones; 0 means the default.
   */
  timeoutMs?: number;
  /**
   * Input for stdin; it is closed after this. Without it, a one-shot or callback `run` closes stdin
   * at once, while a handle (`start`, `background`) keeps it open for `sendStdin`.
   */
  stdin?: string | Uint8Array;
  /** Return a `CommandHandle` at once; the command keeps running when the handle disconnects. */
  background?: boolean;
  /** Resolve with the result instead of throwing `CommandExitError` when the exit code is not 0. */
  allowNonZeroExit?: boolean;
  /**
   * Bytes of stdout and of stderr kept for the result (more sets `truncated`). Default: the
   * server's for one-shot commands (`POST …/exec`), 10 MiB for streamed ones; 0 keeps nothing.
   */
  maxOutputBytes?: number;
  /**
   * Aborting kills the command (and everything it started) and rejects with the signal's reason (a
   * `TimeoutError` for `AbortSignal.timeout`).
   */
  signal?: AbortSignal;
}

export type ForegroundOptions = CommandOptions & { background?: false };
export type BackgroundOptions = CommandOptions & { background: true };

export interface ConnectOptions extends OutputCallbacks {
  /** Output kept for `wait()` (default 10 MiB per stream). */
  maxOutputBytes?: number;
  allowNonZeroExit?: boolean;
  /** Aborting only disconnects: the command keeps running. */
  signal?: AbortSignal;
  /** Deadline for the connection to be established (default: the client's). */
  timeoutMs?: number;
}

/** `ws.commands`: run commands in a workspace (E2B-style). */
export class Commands {
  readonly #http: HttpClient;
  readonly #workspace: string;

  /** @internal */
  constructor(http: HttpClient, workspace: string) {
    this.#http = http;
    this.#workspace = workspace;
  }

  /**
   * Runs a command: a string runs with `/bin/sh -c` inside the workspace, an array is an argv.
   *
   * - Plain: `POST …/exec`, resolves with the result once it exited.
   * - With `onStdout`/`onStderr`/`onData`: streams over a WebSocket, calling them as output arrives.
   * - With `background: true`: resolves at once with a `CommandHandle`.
   *
   * Throws `CommandExitError` (carrying the result) when the exit code is not 0 or the command timed
   * out, unless `allowNonZeroExit` is set.
   */
  run(cmd: string | readonly string[], options: BackgroundOptions): Promise<CommandHandle>;
  run(cmd: string | readonly string[], options?: ForegroundOptions): Promise<CommandResult>;
  run(cmd: string | readonly string[], options?: CommandOptions): Promise<CommandResult | CommandHandle>;
  async run(
    cmd: string | readonly string[],
    options: CommandOptions = {},
  ): Promise<CommandResult | CommandHandle> {
    if (options.background === true) return this.start(cmd, options);
    const streaming =
      options.onStdout !== undefined || options.onStderr !== undefined || options.onData !== undefined;
    if (!streaming) return this.#exec(cmd, options);
    const handle = await this.start(cmd, { ...options, stdin: options.stdin ?? '' });
    return handle.wait();
  }

  /**
   * Starts a command over a WebSocket and returns its handle once it runs. A foreground command
   * (default) is killed when the handle disconnects; `background: true` keeps it running. stdin stays
   * open for `sendStdin` unless `stdin` is given.
   */
  async start(cmd: string | readonly string[], options: CommandOptions = {}): Promise<CommandHandle> {
    const start = {
      type: 'start' as const,
      ...commandFields(cmd, options),
      ...(options.background === true ? { background: true } : {}),
    };
    const handle = await CommandHandle.open(
      this.#http,
      {
        route: 'streamNewCommand',
        params: { id: this.#workspace },
        start,
        timeoutMs: this.#http.timeoutMs,
        signal: options.signal,
        what: `starting a command in workspace ${this.#workspace}`,
        probe: () => this.#probe(),
      },
      { ...options, onAbort: 'kill', startedAt: undefined },
    );
    if (options.stdin !== undefined) {
      const bytes = toBytes(options.stdin);
      if (bytes.length > 0) await handle.sendStdin(bytes);
      await handle.closeStdin();
    }
    return handle;
  }

  /**
   * Re-attaches to a running (or recently finished) command: the output the server still buffers
   * (1 MiB by default) is replayed to the callbacks, then live output follows.
   */
  async connect(id: string, options: ConnectOptions = {}): Promise<CommandHandle> {
    return CommandHandle.open(
      this.#http,
      {
        route: 'streamCommand',
        params: { id: this.#workspace, cid: id },
        timeoutMs: options.timeoutMs ?? this.#http.timeoutMs,
        signal: options.signal,
        what: `connecting to command ${id}`,
        probe: () => this.get(id),
      },
      { ...options, onAbort: 'disconnect', startedAt: 'server' },
    );
  }

  /**
   * Starts a background command over plain HTTP (no stream; its stdin is closed) and returns its
   * description; `connect(id)` attaches to its output later.
   */
  async startDetached(
    cmd: string | readonly string[],
    options: Pick<CommandOptions, 'cwd' | 'env' | 'user' | 'timeoutMs' | 'signal'> = {},
  ): Promise<CommandInfo> {
    const { body } = await this.#http.call<CommandInfo>('startCommand', {
      params: { id: this.#workspace },
      body: commandFields(cmd, options),
      signal: options.signal,
    });
    return body;
  }

  /** Commands of this workspace the server knows: running ones and recently finished ones. */
  async list(options: RequestOptions = {}): Promise<CommandInfo[]> {
    const { body } = await this.#http.call<{ items: CommandInfo[] }>('listCommands', {
      ...options,
      params: { id: this.#workspace },
    });
    return body.items;
  }

  /** One command; `NotFoundError` (`command_not_found`) when the server does not know it. */
  async get(id: string, options: RequestOptions = {}): Promise<CommandInfo> {
    const { body } = await this.#http.call<CommandInfo>('getCommand', {
      ...options,
      params: { id: this.#workspace, cid: id },
    });
    return body;
  }

  /**
   * Ends a command. Without a signal (or with SIGKILL) the command and every process it started are
   * killed and the server waits (up to 10 s) for it to end; another signal goes to its process group.
   * Returns the command as it is afterwards.
   */
  async kill(id: string, signal?: Signal, options: RequestOptions = {}): Promise<CommandInfo> {
    const { body } = await this.#http.call<CommandInfo>('killCommand', {
      params: { id: this.#workspace, cid: id },
      body: signal === undefined ? {} : { signal },
      timeoutMs: options.timeoutMs ?? KILL_TIMEOUT_MS,
      signal: options.signal,
    });
    return body;
  }

  async #exec(cmd: string | readonly string[], options: CommandOptions): Promise<CommandResult> {
    const body: ExecInput = commandFields(cmd, options);
    if (options.stdin !== undefined) {
      if (typeof options.stdin === 'string') {
        body.stdin = options.stdin;
      } else {
        body.stdin = bytesToBase64(options.stdin);
        body.stdinEncoding = 'base64';
      }
    }
    if (options.maxOutputBytes !== undefined) body.maxOutputBytes = options.maxOutputBytes;
    const limit = body.timeoutMs;
    const { body: result } = await this.#http.call<CommandResult>('exec', {
      params: { id: this.#workspace },
      body,
      // The server ends the command at its timeout; wait a little longer for the answer.
      timeoutMs: limit === undefined ? 0 : limit + EXEC_GRACE_MS,
      signal: options.signal,
    });
    if (result.exitCode !== 0 && options.allowNonZeroExit !== true) throw new CommandExitError(result);
    return result;
  }

  #probe(): Promise<unknown> {
    return this.#http.call('getWorkspace', { params: { id: this.#workspace } });
  }
}

interface HandleSettings extends OutputCallbacks {
  maxOutputBytes?: number;
  allowNonZeroExit?: boolean;
  signal?: AbortSignal;
  /** What aborting `signal` does once the command runs. */
  onAbort: 'kill' | 'disconnect';
  /** Measure `durationMs` from the server's `startedAt` (re-attach) or from now. */
  startedAt: 'server' | undefined;
}

/**
 * A running command: its output (accumulated up to a cap, and to the callbacks), stdin, signals and
 * its result. From `commands.start()`, `commands.run(..., { background: true })` and
 * `commands.connect()`.
 */
export class CommandHandle {
  /** The command id (`cmd_…`): `commands.connect(id)`, `commands.kill(id)`. */
  readonly id: string;
  /** The command as the server described it when the stream started. */
  readonly info: CommandInfo;
  #socket!: StreamSocket;
  readonly #settings: HandleSettings;
  readonly #out: Record<OutputStream, CappedBytes>;
  readonly #decoders: Record<OutputStream, Utf8StreamDecoder> = {
    stdout: new Utf8StreamDecoder(),
    stderr: new Utf8StreamDecoder(),
  };
  readonly #done: Promise<CommandResult>;
  #settle!: { resolve(result: CommandResult): void; reject(err: unknown): void };
  #settled = false;
  #result: CommandResult | undefined;
  #startMs = Date.now();
  readonly #onAbort: () => void;

  private constructor(info: CommandInfo | undefined, settings: HandleSettings) {
    this.id = info?.id ?? '';
    this.info = info ?? ({} as CommandInfo);
    this.#settings = settings;
    const cap = settings.maxOutputBytes ?? DEFAULT_STREAM_OUTPUT_BYTES;
    this.#out = { stdout: new CappedBytes(cap), stderr: new CappedBytes(cap) };
    this.#done = new Promise<CommandResult>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    // Nobody may be waiting; a failure is still reported to whoever calls wait() later.
    this.#done.catch(() => undefined);
    this.#onAbort = () => this.#aborted();
  }

  /** @internal */
  static async open(
    http: HttpClient,
    open: Parameters<typeof StreamSocket.open>[1],
    settings: HandleSettings,
  ): Promise<CommandHandle> {
    const { socket, started } = await StreamSocket.open(http, open);
    const info = started.type === 'started' ? started.command : undefined;
    if (info === undefined) {
      socket.close();
      throw new BerthError({
        code: 'invalid_response',
        message: 'the server started a stream without a command',
      });
    }
    const handle = new CommandHandle(info, settings);
    handle.#socket = socket;
    if (settings.startedAt === 'server') {
      const at = Date.parse(info.startedAt);
      if (Number.isFinite(at)) handle.#startMs = Math.min(at, Date.now());
    }
    settings.signal?.addEventListener('abort', handle.#onAbort, { once: true });
    socket.listen({
      message: (message) => handle.#message(message),
      binary: (data) => handle.#binary(data),
      closed: (code, reason, error) => handle.#closed(code, reason, error),
    });
    return handle;
  }

  /** The exit code once the command exited (via this handle's stream), else undefined. */
  get exitCode(): number | undefined {
    return this.#result?.exitCode;
  }

  /** stdout received so far (up to the cap). */
  get stdout(): string {
    return this.#out.stdout.text();
  }

  /** stderr received so far (up to the cap). */
  get stderr(): string {
    return this.#out.stderr.text();
  }

  /** Whether the stream to the server is still open. */
  get connected(): boolean {
    return !this.#socket.closed;
  }

  /**
   * Resolves with the result when the command exits. Throws `CommandExitError` for a non-zero exit
   * (unless `allowNonZeroExit`), the abort reason when the `signal` aborted, a `BerthError` with code
   * `disconnected` after `disconnect()`, and `ConnectionError` when the stream broke off.
   */
  async wait(): Promise<CommandResult> {
    const result = await this.#done;
    if (result.exitCode !== 0 && this.#settings.allowNonZeroExit !== true) {
      throw new CommandExitError(result, `command ${this.id}`);
    }
    return result;
  }

  /** Sends bytes (or UTF-8 text) to the command's stdin; waits while the socket's queue is full. */
  async sendStdin(data: string | Uint8Array): Promise<void> {
    await this.#socket.sendBytes(toBytes(data));
  }

  /** Closes the command's stdin (EOF). */
  closeStdin(): Promise<void> {
    this.#socket.sendMessage({ type: 'stdin-close' });
    return Promise.resolve();
  }

  /** Sends a signal to the command's process group. */
  sendSignal(signal: Signal): Promise<void> {
    this.#socket.sendMessage({ type: 'signal', signal });
    return Promise.resolve();
  }

  /**
   * Kills the command and everything it started (or sends `signal` to its process group). Works
   * over the stream while connected, else over HTTP. `wait()` then resolves with the result.
   */
  kill(signal?: Signal): Promise<void> {
    if (!this.#socket.closed) {
      if (signal === undefined || signal === 'SIGKILL' || signal === 9)
        this.#socket.sendMessage({ type: 'kill' });
      else this.#socket.sendMessage({ type: 'signal', signal });
      return Promise.resolve();
    }
    if (this.#result !== undefined) return Promise.resolve();
    return Promise.reject(
      new BerthError({
        code: 'disconnected',
        message: `the handle of command ${this.id} is disconnected; use commands.kill(id)`,
      }),
    );
  }

  /**
   * Closes the stream. A background command keeps running (`commands.connect(id)` re-attaches); a
   * foreground command is killed by the server. A pending `wait()` rejects with code `disconnected`.
   */
  disconnect(): Promise<void> {
    this.#fail(
      new BerthError({
        code: 'disconnected',
        message: `disconnected from command ${this.id} before it exited`,
      }),
    );
    this.#socket.close(1000, 'disconnect');
    return Promise.resolve();
  }

  #binary(frame: Uint8Array): void {
    const decoded = decodeOutputFrame(frame);
    if (decoded === undefined) return;
    const { stream, data } = decoded;
    this.#out[stream].push(data);
    this.#settings.onData?.(data, stream);
    const callback = stream === 'stdout' ? this.#settings.onStdout : this.#settings.onStderr;
    if (callback) {
      const text = this.#decoders[stream].write(data);
      if (text !== '') callback(text);
    }
  }

  #message(message: ServerMessage): void {
    if (message.type !== 'exit') return;
    // Flush characters held back by the streaming decoders.
    for (const stream of ['stdout', 'stderr'] as const) {
      const callback = stream === 'stdout' ? this.#settings.onStdout : this.#settings.onStderr;
      const rest = this.#decoders[stream].end();
      if (callback && rest !== '') callback(rest);
    }
    const result: CommandResult = {
      exitCode: message.exitCode ?? -1,
      stdout: this.#out.stdout.text(),
      stderr: this.#out.stderr.text(),
      durationMs: Math.max(0, Date.now() - this.#startMs),
      timedOut: message.timedOut === true,
      truncated: { stdout: this.#out.stdout.truncated, stderr: this.#out.stderr.truncated },
    };
    this.#result = result;
    if (!this.#settled) {
      this.#settled = true;
      this.#cleanup();
      this.#settle.resolve(result);
    }
  }

  #closed(code: number, reason: string, error: BerthError | undefined): void {
    this.#fail(
      error ??
        new ConnectionError({
          code: 'connection_failed',
          message: `the stream of command ${this.id} closed before it exited (close code ${code}${reason ? `, ${reason}` : ''})`,
        }),
    );
  }

  #aborted(): void {
    const signal = this.#settings.signal;
    if (this.#settled || signal === undefined) return;
    if (this.#settings.onAbort === 'kill' && !this.#socket.closed) {
      try {
        this.#socket.sendMessage({ type: 'kill' });
      } catch {
        // closed meanwhile
      }
    }
    this.#fail(abortError(signal, `command ${this.id}`, undefined));
    this.#socket.close(1000, 'aborted');
  }

  #fail(err: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#cleanup();
    this.#settle.reject(err);
  }

  #cleanup(): void {
    this.#settings.signal?.removeEventListener('abort', this.#onAbort);
  }
}

/** The shared fields of a command: `command` for a shell line, `cmd` for an argv. */
function commandFields(
  cmd: string | readonly string[],
  options: Pick<CommandOptions, 'cwd' | 'env' | 'user' | 'timeoutMs'>,
): ExecInput {
  const base = typeof cmd === 'string' ? { command: cmd } : { cmd: [...cmd] };
  const fields: ExecInput = defined({
    ...base,
    cwd: options.cwd,
    env: options.env,
    user: options.user,
    timeoutMs: options.timeoutMs !== undefined && options.timeoutMs > 0 ? options.timeoutMs : undefined,
  });
  return fields;
}

/** Standard base64 of bytes (browser-safe). */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
