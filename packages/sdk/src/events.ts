import type { RouteName, WorkspaceEvent } from '@berth/protocol';
import { sleep } from './abort.js';
import type { HttpClient, QueryValue } from './client.js';
import { BerthError, ConnectionError, TimeoutError } from './errors.js';
import { SseParser } from './sse.js';
import type { EventsOptions, EventsPage } from './workspace.js';

export interface EventStreamOptions {
  /**
   * Start after this event id (default 0: the whole history, then live events); `'now'`: only
   * events that happen from now on.
   */
  after?: number | 'now';
  /** Aborting it ends the iteration (without an error). */
  signal?: AbortSignal;
  /** Deadline of each connection attempt until the response starts, in ms (default the client's). */
  timeoutMs?: number;
  /**
   * Reconnect after a network error, a server restart or a 5xx, resuming after the last event seen
   * (`Last-Event-ID`), so nothing is skipped or repeated. Default true.
   */
  reconnect?: boolean;
  /** Failed attempts in a row before the error is thrown (default unlimited). */
  maxRetries?: number;
  /** First delay before reconnecting, doubled per failed attempt up to `maxRetryDelayMs` (default 250). */
  retryDelayMs?: number;
  /** Upper bound of the reconnect delay in ms (default 5000). */
  maxRetryDelayMs?: number;
  /**
   * Reconnect when nothing (not even the server's 15 s keepalive) arrived for this long, in ms
   * (default 45 000; 0 disables).
   */
  idleTimeoutMs?: number;
  /** Called before each reconnect attempt: why, after how long, and from which event id. */
  onReconnect?: (info: ReconnectInfo) => void;
}

export interface ReconnectInfo {
  /** 1 for the first attempt after a failure, counting up until a connection works again. */
  attempt: number;
  delayMs: number;
  /** The resume point: events after this id come next. */
  lastEventId: number;
  error: unknown;
}

/** Which event route a stream reads. @internal */
export type EventFeed =
  | { route: Extract<RouteName, 'listEvents'> }
  | { route: Extract<RouteName, 'listWorkspaceEvents'>; workspace: string };

/** The page query of both event routes. @internal */
export function eventsQuery(options: EventsOptions): Record<string, QueryValue> {
  return { after: options.after, limit: options.limit };
}

/** A page's `nextCursor` (a string on the wire) as the number the next `after` takes. @internal */
export function eventCursor(cursor: number | string | null | undefined): number | null {
  if (cursor === null || cursor === undefined || cursor === '') return null;
  const n = typeof cursor === 'number' ? cursor : Number(cursor);
  return Number.isFinite(n) ? n : null;
}

/**
 * Workspace events as they happen, over Server-Sent Events, reconnecting with `Last-Event-ID` after
 * failures. `untilDeleted` ends a one-workspace stream after its `workspace.deleted` event.
 * @internal Used by `berth.events.stream` and `workspaces.streamEvents`.
 */
export async function* streamEvents(
  http: HttpClient,
  source: EventFeed,
  options: EventStreamOptions & { untilDeleted?: boolean } = {},
): AsyncGenerator<WorkspaceEvent, void, undefined> {
  const { signal } = options;
  const idleTimeoutMs = options.idleTimeoutMs ?? 45_000;
  const baseDelay = options.retryDelayMs ?? 250;
  const maxDelay = options.maxRetryDelayMs ?? 5_000;
  const maxRetries = options.maxRetries ?? Number.POSITIVE_INFINITY;
  /** The resume point once known: the last event id seen (or the server's stated start). */
  let last: number | undefined = typeof options.after === 'number' ? options.after : undefined;
  /** The highest id handed to the caller: nothing at or below it is yielded again. */
  let delivered = typeof options.after === 'number' ? options.after : 0;
  let failures = 0;
  const aborted = (): boolean => signal?.aborted === true;

  while (!aborted()) {
    const idle = new AbortController();
    const connection = signal ? AbortSignal.any([signal, idle.signal]) : idle.signal;
    let timer: ReturnType<typeof setTimeout> | undefined;
    /** The idle deadline covers waiting for the server, not the time the caller spends per event. */
    const disarm = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    };
    const arm = (): void => {
      disarm();
      if (idleTimeoutMs > 0) {
        timer = setTimeout(() => {
          idle.abort(
            new TimeoutError({
              code: 'timeout',
              message: `the event stream was silent for ${idleTimeoutMs}ms`,
            }),
          );
        }, idleTimeoutMs);
      }
    };
    let error: unknown;
    try {
      arm();
      const body: ReadableStream<Uint8Array> | null = await http.callRaw(
        source.route,
        {
          params: source.route === 'listWorkspaceEvents' ? { id: source.workspace } : {},
          query: { after: last ?? (options.after === 'now' ? 'now' : undefined) },
          headers: {
            accept: 'text/event-stream',
            ...(last !== undefined ? { 'last-event-id': String(last) } : {}),
          },
          timeoutMs: options.timeoutMs,
          signal: connection,
          deadlineCovers: 'headers',
        },
        (response) => Promise.resolve(response.body),
      );
      if (body === null)
        throw new BerthError({ code: 'invalid_response', message: 'the event stream has no body' });
      const parser = new SseParser();
      const reader = body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          disarm();
          failures = 0;
          for (const message of parser.push(value)) {
            const event = parseEvent(message.data);
            last = Math.max(last ?? 0, event.id);
            if (event.id <= delivered) continue;
            delivered = event.id;
            yield event;
            if (options.untilDeleted === true && event.type === 'workspace.deleted') return;
          }
          // An id without data (the server's resume point) moves the cursor too.
          const id = Number(parser.lastEventId);
          if (parser.lastEventId !== '' && Number.isSafeInteger(id)) last = Math.max(last ?? 0, id);
          arm();
        }
      } finally {
        await reader.cancel().catch(() => undefined);
        reader.releaseLock();
      }
      error = new ConnectionError({
        code: 'connection_failed',
        message: 'the server ended the event stream',
      });
    } catch (err) {
      error =
        err instanceof BerthError
          ? err
          : new ConnectionError({
              code: 'connection_failed',
              message: 'the event stream broke off',
              cause: err,
            });
    } finally {
      disarm();
    }
    if (aborted()) return;
    if (options.reconnect === false || !retryable(error) || ++failures > maxRetries) throw error;
    const exponent = Math.min(failures - 1, 16);
    const delayMs = Math.round(Math.min(maxDelay, baseDelay * 2 ** exponent) * (0.8 + Math.random() * 0.4));
    options.onReconnect?.({ attempt: failures, delayMs, lastEventId: last ?? 0, error });
    try {
      await sleep(delayMs, signal);
    } catch {
      return;
    }
  }
}

function parseEvent(data: string): WorkspaceEvent {
  try {
    const event = JSON.parse(data) as WorkspaceEvent;
    if (typeof event.id === 'number' && typeof event.type === 'string') return event;
  } catch {
    // reported below
  }
  throw new BerthError({
    code: 'invalid_response',
    message: `the event stream sent data that is not a workspace event: ${data.length > 120 ? `${data.slice(0, 120)}…` : data}`,
  });
}

/** Network trouble, deadlines, a server restart and 5xx are worth another attempt; refusals are not. */
function retryable(err: unknown): boolean {
  if (!(err instanceof BerthError)) return true;
  if (err.code === 'connection_failed' || err.code === 'timeout') return true;
  return err.status !== undefined && err.status >= 500 && err.status !== 501;
}

/** `berth.events`: the events of every workspace this token may see (admin: all; others: their own). */
export class Events {
  readonly #http: HttpClient;

  /** @internal */
  constructor(http: HttpClient) {
    this.#http = http;
  }

  /** One page of events of every visible workspace, deleted ones included, oldest first. */
  async list(options: EventsOptions = {}): Promise<EventsPage> {
    const page = (
      await this.#http.call<{ items: WorkspaceEvent[]; nextCursor: number | string | null }>('listEvents', {
        query: eventsQuery(options),
        timeoutMs: options.timeoutMs,
        signal: options.signal,
      })
    ).body;
    return { items: page.items, nextCursor: eventCursor(page.nextCursor) };
  }

  /**
   * Every event after `after` (default: all history), then new ones as they happen, until `signal`
   * aborts or the loop breaks. Reconnects by itself (see `EventStreamOptions.reconnect`).
   *
   * ```ts
   * for await (const e of berth.events.stream({ after: 'now', signal })) console.log(e.type);
   * ```
   */
  stream(options: EventStreamOptions = {}): AsyncGenerator<WorkspaceEvent, void, undefined> {
    return streamEvents(this.#http, { route: 'listEvents' }, options);
  }
}
