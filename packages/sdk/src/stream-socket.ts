import type { RouteName } from '@berth/protocol';
import { abortError } from './abort.js';
import type { HttpClient, QueryValue } from './client.js';
import { BerthError, ConnectionError, TimeoutError, errorFromCode } from './errors.js';
import { decodeMessage, encodeMessage, type ClientMessage, type ServerMessage } from './frames.js';

/** Above this many queued bytes, `sendBytes` waits for the socket to drain (backpressure). */
const HIGH_WATER_BYTES = 1024 * 1024;

export interface StreamListener {
  /** Text frames after `started` (exit, error, ...). */
  message(message: ServerMessage): void;
  /** Binary frames. */
  binary(data: Uint8Array): void;
  /** The socket closed after `started`; `error` is the server's last `{"type":"error"}` if any. */
  closed(code: number, reason: string, error: BerthError | undefined): void;
}

export interface OpenStreamOptions {
  route: RouteName;
  params: Record<string, string>;
  query?: Record<string, QueryValue>;
  /** The first message (`{"type":"start",...}`), for routes that start something. */
  start?: ClientMessage;
  /** Deadline until `started` arrived, in ms (0: none). */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Names the operation in error messages. */
  what: string;
  /**
   * Called when the WebSocket could not be opened at all (browsers hide the HTTP status of a refused
   * upgrade): an HTTP request that throws the matching typed error (401, 404), if there is one.
   */
  probe?: () => Promise<unknown>;
}

/**
 * One Berth stream (docs/streams.md) over a browser-compatible WebSocket: opens it with the
 * `berth.v1` and bearer subprotocols, sends the start message, and resolves once the server answered
 * `started`. Errors before that are typed (`{"type":"error"}` messages carry server codes).
 */
export class StreamSocket {
  readonly #ws: WebSocket;
  #closed = false;
  #listener: StreamListener | undefined;
  /** Events that arrived after `started` but before `listen()`: delivered to the listener first. */
  readonly #early: ((listener: StreamListener) => void)[] = [];

  private constructor(ws: WebSocket) {
    this.#ws = ws;
  }

  /** Whether the socket closed (or is closing). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Hands everything after `started` to `listener`, beginning with what arrived before this call
   * (output may follow `started` before the caller built its handle).
   */
  listen(listener: StreamListener): void {
    this.#listener = listener;
    for (const deliver of this.#early.splice(0)) deliver(listener);
  }

  #emit(deliver: (listener: StreamListener) => void): void {
    if (this.#listener) deliver(this.#listener);
    else this.#early.push(deliver);
  }

  /** Opens the stream; call `listen()` on the socket to receive what follows `started`. */
  static open(
    http: HttpClient,
    options: OpenStreamOptions,
  ): Promise<{ socket: StreamSocket; started: ServerMessage }> {
    return new Promise((resolve, reject) => {
      // Errors are passed on unchanged (a caller's abort reason need not be an Error, as with fetch).
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      const rejectWith = (err: unknown): void => reject(err);
      const { signal } = options;
      if (signal?.aborted) {
        rejectWith(abortError(signal, options.what, undefined));
        return;
      }
      const url = http.webSocketUrl(options.route, options.params, options.query);
      let ws: WebSocket;
      try {
        ws = http.openWebSocket(url);
      } catch (err) {
        rejectWith(err);
        return;
      }
      ws.binaryType = 'arraybuffer';
      const socket = new StreamSocket(ws);
      let phase: 'connecting' | 'open' | 'started' | 'failed' = 'connecting';
      let lastError: BerthError | undefined;

      const fail = (err: unknown): void => {
        if (phase === 'started' || phase === 'failed') return;
        phase = 'failed';
        cleanup();
        socket.close(1000, 'cancelled');
        rejectWith(err);
      };
      const timer =
        options.timeoutMs > 0
          ? setTimeout(() => {
              fail(
                new TimeoutError({
                  code: 'timeout',
                  message: `${options.what} timed out after ${options.timeoutMs}ms waiting for the server`,
                }),
              );
            }, options.timeoutMs)
          : undefined;
      const onAbort = (): void => {
        if (signal) fail(abortError(signal, options.what, undefined));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };

      ws.onopen = () => {
        if (phase !== 'connecting') return;
        phase = 'open';
        if (options.start) ws.send(encodeMessage(options.start));
      };
      ws.onmessage = (event: MessageEvent) => {
        const data: unknown = event.data;
        if (typeof data !== 'string') {
          const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : undefined;
          if (bytes && phase === 'started') socket.#emit((l) => l.binary(bytes));
          return;
        }
        const message = decodeMessage(data);
        if (message === undefined) return;
        if (message.type === 'error') {
          lastError = errorFromCode(message.code, message.message);
          if (phase === 'started') socket.#emit((l) => l.message(message));
          return;
        }
        if (phase === 'started') {
          socket.#emit((l) => l.message(message));
        } else if (message.type === 'started' && phase === 'open') {
          phase = 'started';
          cleanup();
          resolve({ socket, started: message });
        }
      };
      ws.onerror = () => {
        // A close event follows with the details we have.
      };
      ws.onclose = (event: CloseEvent) => {
        socket.#closed = true;
        if (phase === 'started') {
          const error = lastError;
          socket.#emit((l) => l.closed(event.code, event.reason, error));
          return;
        }
        if (phase === 'failed') return;
        if (lastError !== undefined) {
          fail(lastError);
          return;
        }
        if (phase === 'open') {
          fail(
            closeCodeError(
              event.code,
              event.reason,
              `${options.what}: the server closed the stream before it started`,
            ),
          );
          return;
        }
        // The upgrade itself was refused or the server is unreachable: ask over HTTP why, if we can.
        const refused = new ConnectionError({
          code: 'connection_failed',
          message: `${options.what}: cannot open a WebSocket to ${http.url} (close code ${event.code}); is the server reachable and the token valid?`,
        });
        const probe = options.probe;
        if (probe === undefined) {
          fail(refused);
          return;
        }
        probe().then(
          () => fail(refused),
          (err: unknown) => fail(err instanceof BerthError ? err : refused),
        );
      };
    });
  }

  sendMessage(message: ClientMessage): void {
    if (this.#closed || this.#ws.readyState !== 1) throw this.#closedError();
    this.#ws.send(encodeMessage(message));
  }

  /** Sends a binary frame; resolves once the socket's send queue is below its high-water mark. */
  async sendBytes(data: Uint8Array): Promise<void> {
    if (this.#closed || this.#ws.readyState !== 1) throw this.#closedError();
    this.#ws.send(data);
    while (this.#ws.bufferedAmount > HIGH_WATER_BYTES && this.#ws.readyState === 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  close(code = 1000, reason = ''): void {
    this.#closed = true;
    if (this.#ws.readyState === 0 || this.#ws.readyState === 1) {
      try {
        this.#ws.close(code, reason);
      } catch {
        // already closing
      }
    }
  }

  #closedError(): BerthError {
    return new BerthError({ code: 'disconnected', message: 'the stream is closed' });
  }
}

/** An error for a close without a preceding `{"type":"error"}` message. */
export function closeCodeError(code: number, reason: string, message: string): BerthError {
  const detail = `${message} (close code ${code}${reason === '' ? '' : `, ${reason}`})`;
  if (code === 1008 || code === 1011)
    return errorFromCode(reason === '' ? 'internal' : reason, detail, code === 1008 ? 400 : 500);
  return new ConnectionError({ code: 'connection_failed', message: detail });
}
