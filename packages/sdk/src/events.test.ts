import type { WorkspaceEvent } from '@berth/protocol';
import { describe, expect, it } from 'vitest';
import { Berth } from './berth.js';
import { ConnectionError, NotFoundError } from './errors.js';
import type { ReconnectInfo } from './events.js';

const event = (id: number, type = 'workspace.running'): WorkspaceEvent => ({
  id,
  workspaceId: 'ws_0000000000000001',
  at: '2025-01-01T00:00:00.000Z',
  type,
  status: null,
  message: `event ${id}`,
});
const frame = (e: WorkspaceEvent) => `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;

/** What one connection does: answer with SSE chunks then end/break/hang, fail, or answer an error. */
type Script =
  { sse: string[]; then: 'end' | 'break' | 'hang' } | { refuse: true } | { status: number; code: string };

interface Call {
  url: URL;
  headers: Record<string, string>;
}

/** A `fetch` that plays `scripts` in order (the last one repeats) and records each request. */
function fakeFetch(scripts: Script[]): { fetch: typeof fetch; calls: Call[] } {
  const calls: Call[] = [];
  const fetchImpl = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    calls.push({ url: new URL(url), headers: { ...(init?.headers as Record<string, string>) } });
    const script = scripts[Math.min(calls.length - 1, scripts.length - 1)]!;
    if ('refuse' in script)
      return Promise.reject(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }));
    if ('status' in script) {
      return Promise.resolve(
        new Response(JSON.stringify({ code: script.code, message: 'no', requestId: 'r' }), {
          status: script.status,
          headers: { 'content-type': 'application/json' },
        }),
      );
    }
    // One chunk per read, then the ending, so nothing queued is lost to an error.
    let next = 0;
    const body = new ReadableStream<Uint8Array>(
      {
        start(controller) {
          init?.signal?.addEventListener('abort', () => controller.error(init.signal?.reason));
        },
        pull(controller) {
          const chunk = script.sse[next++];
          if (chunk !== undefined) controller.enqueue(new TextEncoder().encode(chunk));
          else if (script.then === 'end') controller.close();
          else if (script.then === 'break') controller.error(new TypeError('terminated'));
          else return new Promise<void>(() => undefined);
          return undefined;
        },
      },
      { highWaterMark: 0 },
    );
    return Promise.resolve(
      new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } }),
    );
  };
  return { fetch: fetchImpl, calls };
}

const client = (f: typeof fetch) => new Berth({ url: 'http://berth.test', token: 't', fetch: f });

async function collect(iterable: AsyncIterable<WorkspaceEvent>, max: number): Promise<WorkspaceEvent[]> {
  const out: WorkspaceEvent[] = [];
  for await (const e of iterable) {
    out.push(e);
    if (out.length >= max) break;
  }
  return out;
}

describe('event streams', () => {
  it('asks for SSE, reconnects with Last-Event-ID after a break or an end, and never repeats an event', async () => {
    const { fetch, calls } = fakeFetch([
      { sse: ['retry: 2000\nid: 0\n\n', frame(event(1)), frame(event(2)).slice(0, 10)], then: 'break' },
      { refuse: true },
      // A server that sends an old event again must not make the caller see it twice.
      { sse: ['id: 1\n\n', frame(event(2)), frame(event(2)), frame(event(3))], then: 'end' },
      { sse: ['id: 3\n\n', frame(event(4))], then: 'hang' },
    ]);
    const reconnects: ReconnectInfo[] = [];
    const events = await collect(
      client(fetch).events.stream({ retryDelayMs: 1, onReconnect: (info) => reconnects.push(info) }),
      4,
    );
    expect(events.map((e) => e.id)).toEqual([1, 2, 3, 4]);
    expect(calls.map((c) => c.url.pathname)).toEqual([
      '/v1/events',
      '/v1/events',
      '/v1/events',
      '/v1/events',
    ]);
    expect(calls[0]!.headers.accept).toBe('text/event-stream');
    expect(calls[0]!.headers['last-event-id']).toBeUndefined();
    expect(calls[0]!.url.search).toBe('');
    expect(calls.slice(1).map((c) => c.headers['last-event-id'])).toEqual(['1', '1', '3']);
    expect(calls[3]!.url.searchParams.get('after')).toBe('3');
    expect(reconnects.map((r) => [r.attempt, r.lastEventId])).toEqual([
      [1, 1],
      [2, 1],
      [1, 3],
    ]);
    expect(reconnects[0]!.error).toBeInstanceOf(ConnectionError);
  });

  it("resumes an after: 'now' stream from the server's stated start", async () => {
    const { fetch, calls } = fakeFetch([
      { sse: ['id: 41\n\n'], then: 'break' },
      { sse: [frame(event(42))], then: 'hang' },
    ]);
    const events = await collect(client(fetch).events.stream({ after: 'now', retryDelayMs: 1 }), 1);
    expect(events.map((e) => e.id)).toEqual([42]);
    expect(calls[0]!.url.searchParams.get('after')).toBe('now');
    expect(calls[1]!.headers['last-event-id']).toBe('41');
  });

  it('ends quietly when the signal aborts, also while waiting to reconnect', async () => {
    const { fetch } = fakeFetch([{ sse: [frame(event(1))], then: 'hang' }]);
    const abort = new AbortController();
    const seen: number[] = [];
    for await (const e of client(fetch).events.stream({ signal: abort.signal })) {
      seen.push(e.id);
      setTimeout(() => abort.abort(), 10);
    }
    expect(seen).toEqual([1]);

    const refused = fakeFetch([{ refuse: true }]);
    const later = new AbortController();
    setTimeout(() => later.abort(), 50);
    expect(await collect(client(refused.fetch).events.stream({ signal: later.signal }), 1)).toEqual([]);
    expect(refused.calls.length).toBeGreaterThanOrEqual(1);
  });

  it('throws refusals at once and gives up after maxRetries failed attempts', async () => {
    const missing = fakeFetch([{ status: 404, code: 'workspace_not_found' }]);
    await expect(collect(client(missing.fetch).workspaces.streamEvents('gone'), 1)).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect(missing.calls).toHaveLength(1);
    expect(missing.calls[0]!.url.pathname).toBe('/v1/workspaces/gone/events');

    const down = fakeFetch([{ status: 503, code: 'internal' }, { refuse: true }]);
    await expect(
      collect(client(down.fetch).events.stream({ maxRetries: 2, retryDelayMs: 1 }), 1),
    ).rejects.toBeInstanceOf(ConnectionError);
    expect(down.calls).toHaveLength(3);

    const once = fakeFetch([{ refuse: true }]);
    await expect(collect(client(once.fetch).events.stream({ reconnect: false }), 1)).rejects.toBeInstanceOf(
      ConnectionError,
    );
    expect(once.calls).toHaveLength(1);
  });

  it("ends a workspace's stream after its workspace.deleted event", async () => {
    const { fetch } = fakeFetch([
      { sse: [frame(event(1, 'workspace.deleting')), frame(event(2, 'workspace.deleted'))], then: 'hang' },
    ]);
    const events = await collect(client(fetch).workspaces.streamEvents('ws-1'), 10);
    expect(events.map((e) => e.type)).toEqual(['workspace.deleting', 'workspace.deleted']);
  });

  it('reconnects when the server goes silent past idleTimeoutMs', async () => {
    const { fetch, calls } = fakeFetch([
      { sse: ['id: 0\n\n'], then: 'hang' },
      { sse: [frame(event(1))], then: 'hang' },
    ]);
    const events = await collect(client(fetch).events.stream({ idleTimeoutMs: 50, retryDelayMs: 1 }), 1);
    expect(events.map((e) => e.id)).toEqual([1]);
    expect(calls).toHaveLength(2);
  });
});
