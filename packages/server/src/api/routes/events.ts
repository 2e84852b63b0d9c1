import { once } from 'node:events';
import type { Page, WorkspaceEvent } from '@berth/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import type { EventNotifier } from '../../store/event-notifier.js';
import type { WorkspaceRepo } from '../../store/workspace-repo.js';
import { parseWith } from '../../workspaces/validate.js';
import type { WorkspaceService } from '../../workspaces/workspace-service.js';
import { principalOf } from '../app.js';
import { boolFlag } from './query.js';

/** What the event routes read: the store's event feed and its "events appended" signal. */
export type EventLog = Pick<WorkspaceRepo, 'listEvents' | 'listAllEvents' | 'lastEventId' | 'notifier'>;

export interface EventRouteDeps {
  workspaces: WorkspaceService;
  eventLog: EventLog;
}

/**
 * Timing of event streams: the store is re-read at least every `pollMs` (events another process
 * appended raise no in-process signal) and an idle stream gets a comment every `keepaliveMs`.
 * Mutable for tests only.
 */
export const EVENT_STREAM_TIMING = { pollMs: 2_000, keepaliveMs: 15_000, retryMs: 2_000 };
/** Events read from the store per query while a stream catches up. */
const STREAM_PAGE = 500;

const IdParams = z.object({ id: z.string().min(1).max(128) });

const After = z
  .string()
  .regex(/^(\d{0,15}|now)$/, { message: 'use an event id (a non-negative integer), or now' })
  .optional()
  .transform((v) => (v === 'now' ? ('now' as const) : Number(v ?? 0)));

const EventsQuery = z.strictObject({
  after: After,
  limit: z.coerce.number().int().min(1).max(500).default(100),
  stream: boolFlag(false),
});
type EventsQuery = z.infer<typeof EventsQuery>;

type ReadPage = (after: number, limit: number) => Promise<WorkspaceEvent[]>;

export function registerEventRoutes(app: FastifyInstance, deps: EventRouteDeps): void {
  const log = deps.eventLog;

  // Every workspace the token may see (admin: all; user tokens: their own, deleted ones included).
  app.get('/v1/events', async (req, reply) => {
    const principal = principalOf(req);
    const q = parseWith(EventsQuery, req.query, 'query');
    const ownerId = principal.scope === 'admin' ? null : principal.id;
    const read: ReadPage = (after, limit) => log.listAllEvents({ after, limit, ownerId });
    if (wantsStream(req, q)) {
      await streamEvents(req, reply, log.notifier, read, await resumePoint(req, q, log));
      return reply;
    }
    return toPage(await read(pageAfter(q), q.limit), q.limit);
  });

  // One workspace; the stream keeps going after it is deleted (its last event is workspace.deleted).
  app.get('/v1/workspaces/:id/events', async (req, reply) => {
    const { id } = parseWith(IdParams, req.params, 'path');
    const q = parseWith(EventsQuery, req.query, 'query');
    const principal = principalOf(req);
    if (!wantsStream(req, q)) return deps.workspaces.events(principal, id, pageAfter(q), q.limit);
    const ws = await deps.workspaces.resolve(principal, id);
    const read: ReadPage = (after, limit) => log.listEvents(ws.id, after, limit);
    await streamEvents(req, reply, log.notifier, read, await resumePoint(req, q, log));
    return reply;
  });
}

/** `Accept: text/event-stream` or `?stream=true`. */
function wantsStream(req: FastifyRequest, q: EventsQuery): boolean {
  if (q.stream) return true;
  return String(req.headers.accept ?? '')
    .split(',')
    .some((part) => part.split(';')[0]?.trim().toLowerCase() === 'text/event-stream');
}

function pageAfter(q: EventsQuery): number {
  if (q.after === 'now') {
    throw new AppError(
      'validation_failed',
      'after=now only applies to streams (Accept: text/event-stream or stream=true)',
    );
  }
  return q.after;
}

function toPage(items: WorkspaceEvent[], limit: number): Page<WorkspaceEvent> {
  const last = items[items.length - 1];
  return { items, nextCursor: items.length === limit && last ? String(last.id) : null };
}

/** Where a stream starts: the `Last-Event-ID` header (a reconnecting client), else `?after=`. */
async function resumePoint(req: FastifyRequest, q: EventsQuery, log: EventLog): Promise<number> {
  const header = req.headers['last-event-id'];
  const text = Array.isArray(header) ? header[0] : header;
  if (text !== undefined && text.trim() !== '') {
    if (!/^\d{1,15}$/.test(text.trim()))
      throw new AppError('validation_failed', 'Last-Event-ID must be an event id (a non-negative integer)');
    return Number(text.trim());
  }
  return q.after === 'now' ? log.lastEventId() : q.after;
}

/** One SSE message: `id`, `event` (the event type) and the WorkspaceEvent as `data`. */
export function formatEvent(event: WorkspaceEvent): string {
  return `id: ${event.id}\nevent: ${event.type.replace(/[\r\n]/g, '')}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * Serves `text/event-stream`: the events after `from`, then new ones as they are appended (woken by
 * the notifier, or by polling), until the client goes away. Reads at most STREAM_PAGE events at a
 * time and waits for `drain` whenever the socket buffer is full, so a slow client costs no memory.
 */
async function streamEvents(
  req: FastifyRequest,
  reply: FastifyReply,
  notifier: EventNotifier,
  read: ReadPage,
  from: number,
): Promise<void> {
  const res = reply.raw;
  const closed = new AbortController();
  const onClose = () => closed.abort();
  res.on('close', onClose);
  res.on('error', onClose);
  // The client may have left while the route was still reading the store.
  if (res.destroyed || req.raw.socket?.destroyed) closed.abort();
  let appends = 0;
  let wake: (() => void) | undefined;
  const unsubscribe = notifier.subscribe(() => {
    appends++;
    wake?.();
  });
  let lastWrite = Date.now();
  const send = async (text: string): Promise<void> => {
    if (closed.signal.aborted) return;
    lastWrite = Date.now();
    if (!res.write(text)) await once(res, 'drain', { signal: closed.signal }).catch(() => undefined);
  };
  /** Sleeps until an append, the next poll or keepalive, or the client leaving. */
  const idle = (): Promise<void> =>
    new Promise((resolve) => {
      const until = Math.min(
        EVENT_STREAM_TIMING.pollMs,
        lastWrite + EVENT_STREAM_TIMING.keepaliveMs - Date.now(),
      );
      const done = () => {
        clearTimeout(timer);
        closed.signal.removeEventListener('abort', done);
        wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, until));
      closed.signal.addEventListener('abort', done, { once: true });
      wake = done;
    });

  reply.hijack();
  // Headers hooks set on the reply (x-request-id) go out with the raw response.
  for (const [name, value] of Object.entries(reply.getHeaders()))
    if (value !== undefined) res.setHeader(name, value);
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
  });
  let cursor = from;
  try {
    // The resume point as an id without data: a client that reconnects before any event came
    // resumes from here (matters for after=now).
    await send(`retry: ${EVENT_STREAM_TIMING.retryMs}\nid: ${cursor}\n\n`);
    while (!closed.signal.aborted) {
      const before = appends;
      const events = await read(cursor, STREAM_PAGE);
      for (const event of events) {
        if (closed.signal.aborted) break;
        await send(formatEvent(event));
        cursor = event.id;
      }
      if (events.length === STREAM_PAGE || closed.signal.aborted) continue;
      // Appended while we read: read again at once (the signal may predate the read's snapshot).
      if (appends === before) await idle();
      if (Date.now() - lastWrite >= EVENT_STREAM_TIMING.keepaliveMs) await send(': keepalive\n\n');
    }
  } catch (err) {
    // The store failed: end the response; the client reconnects with Last-Event-ID.
    if (!closed.signal.aborted) req.log.warn({ requestId: req.id, err }, 'event stream ended by an error');
  } finally {
    unsubscribe();
    res.off('close', onClose);
    res.off('error', onClose);
    if (!res.writableEnded) res.end();
  }
}
