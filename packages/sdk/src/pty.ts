import type { TerminalInfo } from '@berth/protocol';
import { abortError } from './abort.js';
import { toBytes } from './bytes.js';
import type { HttpClient, RequestOptions } from './client.js';
import { BerthError, ConnectionError } from './errors.js';
import { defined, type ServerMessage } from './frames.js';
import { StreamSocket } from './stream-socket.js';

export interface PtyCreateOptions {
  cols: number;
  rows: number;
  /** Terminal output, raw bytes as the program wrote them. */
  onData: (data: Uint8Array) => void;
  /** Program to run (default: the runtime's shell). */
  cmd?: readonly string[];
  /** Absolute working directory (default `/workspace`). */
  cwd?: string;
  /** Extra environment (`TERM` defaults to `xterm-256color`). */
  env?: Record<string, string>;
  /** Deadline for the terminal to start, in ms (default: the client's). */
  timeoutMs?: number;
  /** Aborting kills the terminal and rejects `wait()` with the signal's reason. */
  signal?: AbortSignal;
}

export interface PtyConnectOptions {
  onData: (data: Uint8Array) => void;
  /**
   * Replay only output after this sequence number (a previous handle's `lastSeq`); default: all
   * the server still buffers.
   */
  after?: number;
  timeoutMs?: number;
  /** Aborting only disconnects: the terminal keeps running. */
  signal?: AbortSignal;
}

/** `ws.pty`: interactive terminals (PTYs) in a workspace. */
export class Pty {
  readonly #http: HttpClient;
  readonly #workspace: string;

  /** @internal */
  constructor(http: HttpClient, workspace: string) {
    this.#http = http;
    this.#workspace = workspace;
  }

  /** Opens a terminal and resolves once it runs. */
  async create(options: PtyCreateOptions): Promise<PtyHandle> {
    const start = {
      type: 'start' as const,
      ...defined({
        cols: options.cols,
        rows: options.rows,
        cmd: options.cmd ? [...options.cmd] : undefined,
        cwd: options.cwd,
        env: options.env,
      }),
    };
    return PtyHandle.open(
      this.#http,
      {
        route: 'streamNewTerminal',
        params: { id: this.#workspace },
        start,
        timeoutMs: options.timeoutMs ?? this.#http.timeoutMs,
        signal: options.signal,
        what: `opening a terminal in workspace ${this.#workspace}`,
        probe: () => this.#http.call('getWorkspace', { params: { id: this.#workspace } }),
      },
      {
        onData: options.onData,
        signal: options.signal,
        onAbort: 'kill',
        kill: (id) => this.kill(id),
        firstSeq: 0,
      },
    );
  }

  /**
   * Re-attaches to a live terminal (after `disconnect()`, a lost connection or from another
   * process): buffered output is replayed, then live output follows.
   */
  async connect(id: string, options: PtyConnectOptions): Promise<PtyHandle> {
    return PtyHandle.open(
      this.#http,
      {
        route: 'streamTerminal',
        params: { id: this.#workspace, tid: id },
        query: { after: options.after },
        timeoutMs: options.timeoutMs ?? this.#http.timeoutMs,
        signal: options.signal,
        what: `connecting to terminal ${id}`,
        probe: () => this.list(),
      },
      {
        onData: options.onData,
        signal: options.signal,
        onAbort: 'disconnect',
        kill: (tid) => this.kill(tid),
        firstSeq: options.after === undefined ? undefined : options.after + 1,
      },
    );
  }

  /** The live terminals of this workspace. */
  async list(options: RequestOptions = {}): Promise<TerminalInfo[]> {
    const { body } = await this.#http.call<{ items: TerminalInfo[] }>('listTerminals', {
      ...options,
      params: { id: this.#workspace },
    });
    return body.items;
  }

  /** Ends a terminal with everything it started; `NotFoundError` (`terminal_not_found`) if gone. */
  async kill(id: string, options: RequestOptions = {}): Promise<void> {
    await this.#http.call('killTerminal', { ...options, params: { id: this.#workspace, tid: id } });
  }
}

interface PtySettings {
  onData: (data: Uint8Array) => void;
  signal: AbortSignal | undefined;
  onAbort: 'kill' | 'disconnect';
  kill: (id: string) => Promise<void>;
  /** Sequence number of the first output frame, when known. */
  firstSeq: number | undefined;
}

/** A terminal: keystrokes in, output to `onData`, resize, and its exit code. */
export class PtyHandle {
  readonly id: string;
  /** The terminal as described when the stream started. */
  readonly info: TerminalInfo;
  #socket!: StreamSocket;
  readonly #settings: PtySettings;
  readonly #done: Promise<{ exitCode: number }>;
  #settle!: { resolve(v: { exitCode: number }): void; reject(err: unknown): void };
  #settled = false;
  #exitCode: number | undefined;
  #frames = 0;
  readonly #onAbort: () => void;

  private constructor(info: TerminalInfo, settings: PtySettings) {
    this.id = info.id;
    this.info = info;
    this.#settings = settings;
    this.#done = new Promise((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    this.#done.catch(() => undefined);
    this.#onAbort = () => this.#aborted();
  }

  /** @internal */
  static async open(
    http: HttpClient,
    open: Parameters<typeof StreamSocket.open>[1],
    settings: PtySettings,
  ): Promise<PtyHandle> {
    const { socket, started } = await StreamSocket.open(http, open);
    const info = started.type === 'started' ? started.terminal : undefined;
    if (info === undefined) {
      socket.close();
      throw new BerthError({
        code: 'invalid_response',
        message: 'the server started a stream without a terminal',
      });
    }
    // The server says where its frames start (exact even when its buffer dropped old output).
    const firstSeq = started.type === 'started' ? started.firstSeq : undefined;
    const handle = new PtyHandle(info, typeof firstSeq === 'number' ? { ...settings, firstSeq } : settings);
    handle.#socket = socket;
    settings.signal?.addEventListener('abort', handle.#onAbort, { once: true });
    socket.listen({
      message: (message) => handle.#message(message),
      binary: (data) => handle.#binary(data),
      closed: (code, reason, error) => handle.#closed(code, reason, error),
    });
    return handle;
  }

  /** The exit code once the program exited, else undefined. */
  get exitCode(): number | undefined {
    return this.#exitCode;
  }

  /** Whether the stream is still open. */
  get connected(): boolean {
    return !this.#socket.closed;
  }

  /**
   * Sequence number of the last output frame received, for `pty.connect(id, { after })` to skip what
   * was seen: the server's `firstSeq` plus the frames since (-1 before the first frame).
   */
  get lastSeq(): number | undefined {
    const first = this.#settings.firstSeq;
    return first === undefined ? undefined : first + this.#frames - 1;
  }

  /** Sends keystrokes (bytes, or text as UTF-8). */
  async sendInput(data: string | Uint8Array): Promise<void> {
    await this.#socket.sendBytes(toBytes(data));
  }

  /** Changes the terminal size (the program gets SIGWINCH). */
  resize(cols: number, rows: number): Promise<void> {
    this.#socket.sendMessage({ type: 'resize', cols, rows });
    return Promise.resolve();
  }

  /** Ends the program and everything it started; `wait()` then resolves with its exit code. */
  async kill(): Promise<void> {
    if (this.#exitCode !== undefined) return;
    await this.#settings.kill(this.id);
  }

  /** Resolves with the exit code when the program exits. */
  wait(): Promise<{ exitCode: number }> {
    return this.#done;
  }

  /**
   * Closes the stream; the terminal keeps running for a while (server `terminals.detachedTimeoutMs`,
   * 10 min by default) so `pty.connect(id)` can pick it up. A pending `wait()` rejects (`disconnected`).
   */
  disconnect(): Promise<void> {
    this.#fail(new BerthError({ code: 'disconnected', message: `disconnected from terminal ${this.id}` }));
    this.#socket.close(1000, 'disconnect');
    return Promise.resolve();
  }

  #binary(data: Uint8Array): void {
    this.#frames++;
    this.#settings.onData(data);
  }

  #message(message: ServerMessage): void {
    if (message.type !== 'exit') return;
    this.#exitCode = message.exitCode ?? -1;
    if (this.#settled) return;
    this.#settled = true;
    this.#cleanup();
    this.#settle.resolve({ exitCode: this.#exitCode });
  }

  #closed(code: number, reason: string, error: BerthError | undefined): void {
    this.#fail(
      error ??
        new ConnectionError({
          code: 'connection_failed',
          message: `the stream of terminal ${this.id} closed before it exited (close code ${code}${reason ? `, ${reason}` : ''}); pty.connect() may re-attach`,
        }),
    );
  }

  #aborted(): void {
    const signal = this.#settings.signal;
    if (this.#settled || signal === undefined) return;
    if (this.#settings.onAbort === 'kill') void this.#settings.kill(this.id).catch(() => undefined);
    this.#fail(abortError(signal, `terminal ${this.id}`, undefined));
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
