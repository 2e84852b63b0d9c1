import {
  BEARER_PROTOCOL_PREFIX,
  DEFAULT_URL,
  ROUTES,
  STREAM_PROTOCOL,
  type RouteName,
} from '@berth/protocol';
import { abortError, deadline, resettableDeadline } from './abort.js';
import { base64url } from './bytes.js';
import { BerthError, ConnectionError, errorFromResponse } from './errors.js';

/** Default deadline of one plain request (get, list, ...), in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Default deadline of operations that wait for the engine (create, start, delete, image build). */
export const DEFAULT_WAIT_TIMEOUT_MS = 600_000;

export interface BerthOptions {
  /** API base URL; default `$BERTH_URL` (when a `process` global exists), else `http://127.0.0.1:7420`. */
  url?: string;
  /** Bearer token; default `$BERTH_TOKEN` likewise. `null` sends none and skips the environment. */
  token?: string | null;
  /** Deadline of plain requests in ms (default 30 000; 0 disables). Waiting operations use their own. */
  timeoutMs?: number;
  /** A `fetch` implementation; default the global one. */
  fetch?: typeof fetch;
  /**
   * A browser-compatible `WebSocket` constructor for commands and terminals; default the global one
   * (browsers, Node.js >= 22).
   */
  WebSocket?: WebSocketConstructor;
}

/** The standard (browser) `WebSocket` constructor shape. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocket;

/** Every call accepts these: a deadline in milliseconds (0 disables) and a caller's abort signal. */
export interface RequestOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export type QueryValue = string | number | boolean | undefined | null | readonly string[];

export interface CallOptions extends RequestOptions {
  /** Values for `:name` segments of the route path. */
  params?: Record<string, string>;
  query?: Record<string, QueryValue>;
  /** JSON body; sent with `content-type: application/json` only when present. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Non-2xx statuses whose body is a result rather than an error (health answers 503 when degraded). */
  acceptStatus?: readonly number[];
}

/** A raw request body: file content or an archive. */
export type RawBody = string | Uint8Array | ArrayBuffer | Blob | ReadableStream<Uint8Array>;

export interface RawCallOptions extends Omit<CallOptions, 'body'> {
  /** Sent as-is with `contentType`. */
  rawBody?: RawBody;
  contentType?: string;
  /**
   * What the deadline covers: the whole exchange including `consume` (default), or only until the
   * response headers arrived (streams handed to the caller, which the caller's signal still ends).
   */
  deadlineCovers?: 'all' | 'headers';
}

export interface ApiResponse<T> {
  status: number;
  headers: Headers;
  /** Parsed JSON; `undefined` for empty bodies (204). */
  body: T;
}

/** Reads an environment variable when a Node-like `process` global exists (browser-safe). */
export function readEnv(name: string): string | undefined {
  const proc = (globalThis as unknown as { process?: { env?: Record<string, string | undefined> } }).process;
  const value = proc?.env?.[name];
  return value === undefined || value === '' ? undefined : value;
}

/** Validates and normalises a base URL (no trailing slash, no credentials). */
export function normaliseBaseUrl(raw: string): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new BerthError({ code: 'invalid_url', message: `invalid Berth URL ${JSON.stringify(raw)}` });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new BerthError({
      code: 'invalid_url',
      message: `Berth URL must be http or https, got ${parsed.protocol}`,
    });
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new BerthError({
      code: 'invalid_url',
      message: 'Berth URL must not contain credentials; pass the token separately',
    });
  }
  parsed.search = '';
  parsed.hash = '';
  return parsed.toString().replace(/\/+$/, '');
}

/** Fills `:name` segments of a route path, encoding each value. */
export function fillPath(path: string, params: Record<string, string> = {}): string {
  return path.replace(/:([A-Za-z]+)/g, (_match, name: string) => {
    const value = params[name];
    if (value === undefined || value === '') {
      throw new BerthError({ code: 'validation_failed', message: `missing path parameter ${name}` });
    }
    return encodeURIComponent(value);
  });
}

/** Appends query parameters; arrays repeat the key, `undefined`/`null` are left out. */
export function buildQuery(query: Record<string, QueryValue> = {}): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) {
      for (const item of value as readonly string[]) search.append(key, item);
    } else {
      search.append(key, String(value));
    }
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

/** Why a fetch failed, from its cause chain: a system code (ECONNREFUSED, ENOTFOUND) or the innermost message. */
function failureReason(err: unknown): string | undefined {
  let current: unknown = err;
  let message: string | undefined;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const { code, message: text, cause } = current as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof code === 'string' && code !== '') return code;
    if (depth > 0 && typeof text === 'string' && text !== '') message = text;
    current = cause;
  }
  return message;
}

/** The HTTP core: base URL, bearer token, JSON, deadlines and error decoding. */
export class HttpClient {
  readonly url: string;
  readonly timeoutMs: number;
  readonly #token: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #WebSocket: WebSocketConstructor | undefined;

  constructor(options: BerthOptions = {}) {
    this.url = normaliseBaseUrl(options.url ?? readEnv('BERTH_URL') ?? DEFAULT_URL);
    this.#token = options.token === null ? undefined : (options.token ?? readEnv('BERTH_TOKEN'));
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#WebSocket = options.WebSocket;
  }

  /** The `ws:`/`wss:` URL of a WebSocket route. */
  webSocketUrl(
    route: RouteName,
    params?: Record<string, string>,
    query?: Record<string, QueryValue>,
  ): string {
    const path = fillPath(ROUTES[route].path, params);
    return `${this.url.replace(/^http/, 'ws')}${path}${buildQuery(query)}`;
  }

  /** Subprotocols of a stream: `berth.v1`, plus the token (browsers cannot send an Authorization header). */
  webSocketProtocols(): string[] {
    const protocols = [STREAM_PROTOCOL];
    if (this.#token !== undefined) protocols.push(`${BEARER_PROTOCOL_PREFIX}${base64url(this.#token)}`);
    return protocols;
  }

  /** Opens a WebSocket with the configured (or global) constructor. */
  openWebSocket(url: string): WebSocket {
    const Ctor = this.#WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (Ctor === undefined) {
      throw new BerthError({
        code: 'websocket_unavailable',
        message:
          'no WebSocket implementation: use Node.js >= 22 or a browser, or pass the `WebSocket` option',
      });
    }
    return new Ctor(url, this.webSocketProtocols());
  }

  /**
   * Calls a route with an optional raw body and hands the response (2xx, not yet read) to `consume`.
   * Errors are decoded as in `call`; the deadline covers `consume` unless `deadlineCovers: 'headers'`.
   */
  async callRaw<T>(
    route: RouteName,
    options: RawCallOptions,
    consume: (response: Response) => Promise<T>,
  ): Promise<T> {
    const { method, path: template } = ROUTES[route];
    const path = fillPath(template, options.params);
    const url = `${this.url}${path}${buildQuery(options.query)}`;
    const headers: Record<string, string> = { accept: '*/*', ...options.headers };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    const init: RequestInit & { duplex?: 'half' } = { method, headers };
    if (options.rawBody !== undefined) {
      headers['content-type'] = options.contentType ?? 'application/octet-stream';
      init.body = options.rawBody as RequestInit['body'];
      // Streaming request bodies need half duplex (Node.js, Chromium).
      if (isReadableStream(options.rawBody)) init.duplex = 'half';
    }
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const limit = resettableDeadline(timeoutMs, options.signal);
    init.signal = limit.signal;
    const what = `${method} ${path}`;
    try {
      const response = await this.#fetch(url, init);
      if (!response.ok) throw await errorFromResponse(response, { hadToken: this.hasToken });
      if (options.deadlineCovers === 'headers') limit.clear();
      return await consume(response);
    } catch (err) {
      if (limit.signal?.aborted) throw abortError(limit.signal, what, timeoutMs);
      if (err instanceof BerthError) throw err;
      const reason = failureReason(err);
      throw new ConnectionError({
        code: 'connection_failed',
        message: `${what} failed: cannot reach the Berth server at ${this.url}${reason ? ` (${reason})` : ''}`,
        cause: err,
      });
    } finally {
      // A stream handed to the caller stays tied to the caller's signal; everything else lets go.
      if (options.deadlineCovers === 'headers') limit.clear();
      else limit.release();
    }
  }

  /** Whether a token is configured (the token itself is never exposed). */
  get hasToken(): boolean {
    return this.#token !== undefined;
  }

  /** Calls one route of the contract and returns the decoded response; throws `BerthError`s. */
  async call<T>(route: RouteName, options: CallOptions = {}): Promise<ApiResponse<T>> {
    const { method, path: template } = ROUTES[route];
    const path = fillPath(template, options.params);
    const url = `${this.url}${path}${buildQuery(options.query)}`;
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const signal = deadline(timeoutMs, options.signal);
    try {
      const response = await this.#fetch(url, { method, headers, body, signal });
      const accepted = response.ok || (options.acceptStatus?.includes(response.status) ?? false);
      if (!accepted) throw await errorFromResponse(response, { hadToken: this.hasToken });
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: parseBody<T>(text, response) };
    } catch (err) {
      if (signal?.aborted) throw abortError(signal, `${method} ${path}`, timeoutMs);
      if (err instanceof BerthError) throw err;
      const reason = failureReason(err);
      throw new ConnectionError({
        code: 'connection_failed',
        message:
          `cannot reach the Berth server at ${this.url}${reason ? ` (${reason})` : ''}; ` +
          'is it running? Start it with `berth serve`, or point BERTH_URL at it',
        cause: err,
      });
    }
  }
}

function isReadableStream(value: unknown): value is ReadableStream<Uint8Array> {
  return typeof ReadableStream !== 'undefined' && value instanceof ReadableStream;
}

function parseBody<T>(text: string, response: Response): T {
  if (text === '') return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new BerthError({
      code: 'invalid_response',
      message: `the server answered HTTP ${response.status} with a body that is not JSON; is ${response.url || 'the URL'} a Berth server?`,
      status: response.status,
      requestId: response.headers.get('x-request-id') ?? undefined,
      cause: err,
    });
  }
}
