import { join } from 'node:path';
import type { CreatedApiToken, Page, Workspace, WorkspaceEvent } from '@berth/protocol';
import SQLite from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { EVENT_STREAM_TIMING } from '../src/api/routes/events.js';
import { ErrorBodySchema, WorkspaceEventSchema } from '../src/api/schemas.js';
import { withBerth, type TestBerth } from './harness.js';

/** One SSE block as it came off the wire. */
interface Frame {
  raw: string;
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
  retry?: string;
}

/** A raw `text/event-stream` reader (deliberately not the SDK's parser). */
interface Stream {
  status: number;
  headers: Headers;
  /** The next block; fails after `timeoutMs`. */
  next(timeoutMs?: number): Promise<Frame>;
  /** Workspace events until `done` holds for one (included). */
  eventsUntil(done: (e: WorkspaceEvent) => boolean, timeoutMs?: number): Promise<WorkspaceEvent[]>;
  /** Every event that arrives within `ms`. */
  eventsFor(ms: number): Promise<WorkspaceEvent[]>;
  close(): void;
}

async function openStream(
  berth: TestBerth,
  path: string,
  options: { token?: string; headers?: Record<string, string> } = {},
): Promise<Stream> {
  const abort = new AbortController();
  const res = await fetch(`${berth.url}${path}`, {
    headers: {
      accept: 'text/event-stream',
      authorization: `Bearer ${options.token ?? berth.token}`,
      ...options.headers,
    },
    signal: abort.signal,
  });
  const body: ReadableStream<Uint8Array> = res.body!;
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let pendingRead: ReturnType<typeof reader.read> | undefined;
  const next = async (timeoutMs = 30_000): Promise<Frame> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const raw = buffer.slice(0, end + 2);
        buffer = buffer.slice(end + 2);
        const frame: Frame = { raw };
        for (const line of raw.slice(0, -2).split('\n')) {
          if (line.startsWith(':')) frame.comment = line.slice(1).trim();
          else {
            const i = line.indexOf(': ');
            const field = line.slice(0, i) as 'id' | 'event' | 'data' | 'retry';
            frame[field] = line.slice(i + 2);
          }
        }
        return frame;
      }
      const left = until - Date.now();
      if (left <= 0) throw new Error(`no SSE frame within ${timeoutMs}ms (buffer: ${buffer})`);
      // A read that timed out stays pending; the next call picks it up.
      pendingRead ??= reader.read();
      const result = await Promise.race([
        pendingRead,
        new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), left)),
      ]);
      if (result === 'timeout') continue;
      pendingRead = undefined;
      if (result.done) throw new Error('the stream ended');
      buffer += decoder.decode(result.value, { stream: true });
    }
  };
  const toEvent = (frame: Frame): WorkspaceEvent | undefined =>
    frame.data === undefined ? undefined : WorkspaceEventSchema.parse(JSON.parse(frame.data));
  return {
    status: res.status,
    headers: res.headers,
    next,
    async eventsUntil(done, timeoutMs = 60_000) {
      const out: WorkspaceEvent[] = [];
      const until = Date.now() + timeoutMs;
      for (;;) {
        const event = toEvent(await next(until - Date.now()));
        if (!event) continue;
        out.push(event);
        if (done(event)) return out;
      }
    },
    async eventsFor(ms) {
      const out: WorkspaceEvent[] = [];
      const until = Date.now() + ms;
      for (;;) {
        const left = until - Date.now();
        if (left <= 0) return out;
        try {
          const event = toEvent(await next(left));
          if (event) out.push(event);
        } catch (err) {
          if (String(err).includes('no SSE frame')) return out;
          throw err;
        }
      }
    },
    close: () => abort.abort(),
  };
}

async function create(berth: TestBerth, name: string, token?: string): Promise<Workspace> {
  const res = await berth.api<Workspace>('POST', '/v1/workspaces', {
    body: { name },
    ...(token ? { token } : {}),
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

async function userToken(berth: TestBerth, name: string): Promise<CreatedApiToken> {
  const res = await berth.api<CreatedApiToken>('POST', '/v1/tokens', { body: { name, scope: 'user' } });
  expect(res.status).toBe(201);
  return res.body;
}

async function waitUntil(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const LIFECYCLE = [
  'workspace.created',
  'workspace.running',
  'workspace.stopping',
  'workspace.stopped',
  'workspace.deleting',
  'workspace.deleted',
];

describe('workspace events as Server-Sent Events', () => {
  it('streams a workspace from created to deleted in order, and resumes from Last-Event-ID exactly', async () => {
    await withBerth({}, async (berth) => {
      const stream = await openStream(berth, '/v1/events');
      try {
        expect(stream.status).toBe(200);
        expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
        expect(stream.headers.get('x-request-id')).toMatch(/\S/);
        // The preamble names the resume point, so a client reconnecting before any event resumes there.
        expect((await stream.next()).raw).toBe(`retry: ${EVENT_STREAM_TIMING.retryMs}\nid: 0\n\n`);

        const ws = await create(berth, 'sse-life');
        expect((await berth.api('POST', `/v1/workspaces/${ws.id}/stop`)).status).toBe(200);
        expect((await berth.api('DELETE', `/v1/workspaces/${ws.id}`)).status).toBe(204);
        const seen = await stream.eventsUntil((e) => e.type === 'workspace.deleted');

        expect(seen.every((e) => e.workspaceId === ws.id)).toBe(true);
        const types = seen.map((e) => e.type);
        expect(types.filter((t) => LIFECYCLE.includes(t))).toEqual(LIFECYCLE);
        expect(seen.map((e) => e.status).filter(Boolean)).toEqual(
          expect.arrayContaining(['provisioning', 'running', 'stopping', 'stopped', 'deleting', 'deleted']),
        );
        for (let i = 1; i < seen.length; i++) expect(seen[i]!.id).toBeGreaterThan(seen[i - 1]!.id);

        // The same events as the JSON pages of both routes.
        const all = await berth.api<Page<WorkspaceEvent>>('GET', '/v1/events?limit=500');
        expect(all.body.items).toEqual(seen);
        expect(all.body.nextCursor).toBeNull();

        // Resume in the middle: exactly the events after it, and the wire format is id/event/data.
        const mid = seen[2]!.id;
        const resumed = await openStream(berth, '/v1/events?after=1', {
          headers: { 'last-event-id': String(mid) },
        });
        try {
          expect((await resumed.next()).raw).toContain(`id: ${mid}\n`);
          const first = await resumed.next();
          const expected = seen.filter((e) => e.id > mid);
          expect(first.raw).toBe(
            `id: ${expected[0]!.id}\nevent: ${expected[0]!.type}\ndata: ${JSON.stringify(expected[0])}\n\n`,
          );
          const rest = await resumed.eventsUntil((e) => e.type === 'workspace.deleted');
          expect([WorkspaceEventSchema.parse(JSON.parse(first.data!)), ...rest]).toEqual(expected);
          // Nothing after the last one.
          expect(await resumed.eventsFor(300)).toEqual([]);
        } finally {
          resumed.close();
        }

        // ?after= does the same without the header; after=now only what comes next.
        const byQuery = await openStream(berth, `/v1/events?after=${mid}`);
        try {
          expect(await byQuery.eventsUntil((e) => e.type === 'workspace.deleted')).toEqual(
            seen.filter((e) => e.id > mid),
          );
        } finally {
          byQuery.close();
        }
        const fromNow = await openStream(berth, '/v1/events?after=now');
        try {
          expect((await fromNow.next()).raw).toContain(`id: ${seen.at(-1)!.id}\n`);
          expect(await fromNow.eventsFor(300)).toEqual([]);
        } finally {
          fromNow.close();
        }
      } finally {
        stream.close();
      }
    });
  });

  it('scopes streams to the token and to one workspace, and serves JSON pages without SSE', async () => {
    await withBerth({}, async (berth) => {
      const alice = await userToken(berth, 'alice');
      const bob = await userToken(berth, 'bob');
      const aliceAll = await openStream(berth, '/v1/events', { token: alice.secret });
      try {
        const a = await create(berth, 'alice-ws', alice.secret);
        const b = await create(berth, 'bob-ws', bob.secret);

        // The per-workspace stream, by name, filters to that workspace and outlives its deletion.
        const aOnly = await openStream(berth, '/v1/workspaces/alice-ws/events?stream=true', {
          token: alice.secret,
          headers: { accept: '*/*' },
        });
        try {
          expect(aOnly.status).toBe(200);
          await aOnly.eventsUntil((e) => e.type === 'workspace.running');
          expect((await berth.api('POST', `/v1/workspaces/${b.id}/stop`, { token: bob.secret })).status).toBe(
            200,
          );
          expect((await berth.api('DELETE', `/v1/workspaces/${a.id}`, { token: alice.secret })).status).toBe(
            204,
          );
          const rest = await aOnly.eventsUntil((e) => e.type === 'workspace.deleted');
          expect(rest.map((e) => e.workspaceId)).toEqual(rest.map(() => a.id));
          expect(rest.map((e) => e.type)).toEqual(['workspace.deleting', 'workspace.deleted']);
        } finally {
          aOnly.close();
        }

        // Alice's feed has her workspace only, its deletion included.
        const aliceEvents = await aliceAll.eventsUntil((e) => e.type === 'workspace.deleted');
        expect(new Set(aliceEvents.map((e) => e.workspaceId))).toEqual(new Set([a.id]));
        const alicePage = await berth.api<Page<WorkspaceEvent>>('GET', '/v1/events', { token: alice.secret });
        expect(alicePage.body.items).toEqual(aliceEvents);
        const adminPage = await berth.api<Page<WorkspaceEvent>>('GET', '/v1/events');
        expect(new Set(adminPage.body.items.map((e) => e.workspaceId))).toEqual(new Set([a.id, b.id]));

        // Another owner's workspace is not there at all.
        for (const headers of [{ accept: 'text/event-stream' }, { accept: 'application/json' }]) {
          const res = await fetch(`${berth.url}/v1/workspaces/${b.id}/events`, {
            headers: { ...headers, authorization: `Bearer ${alice.secret}` },
          });
          expect(res.status).toBe(404);
          expect(ErrorBodySchema.parse(await res.json()).code).toBe('workspace_not_found');
        }

        // JSON pages: after/limit/nextCursor as before, on both routes.
        const bEvents = (await berth.api<Page<WorkspaceEvent>>('GET', `/v1/workspaces/${b.id}/events`)).body
          .items;
        expect(bEvents.length).toBeGreaterThanOrEqual(4);
        const first = await berth.api<Page<WorkspaceEvent>>('GET', `/v1/workspaces/bob-ws/events?limit=2`);
        expect(first.body.items).toEqual(bEvents.slice(0, 2));
        expect(first.body.nextCursor).toBe(String(bEvents[1]!.id));
        const second = await berth.api<Page<WorkspaceEvent>>(
          'GET',
          `/v1/workspaces/bob-ws/events?limit=2&after=${first.body.nextCursor}`,
        );
        expect(second.body.items).toEqual(bEvents.slice(2, 4));
        const allPage = await berth.api<Page<WorkspaceEvent>>('GET', '/v1/events?limit=1');
        expect(allPage.body.items).toHaveLength(1);
        expect(allPage.body.nextCursor).toBe(String(allPage.body.items[0]!.id));

        // Refusals.
        for (const path of ['/v1/events?after=now', '/v1/events?after=-1', '/v1/events?limit=501']) {
          const res = await berth.api('GET', path);
          expect(res.status, path).toBe(400);
          expect(ErrorBodySchema.parse(res.body).code).toBe('validation_failed');
        }
        const badHeader = await fetch(`${berth.url}/v1/events`, {
          headers: {
            accept: 'text/event-stream',
            authorization: `Bearer ${berth.token}`,
            'last-event-id': 'x',
          },
        });
        expect(badHeader.status).toBe(400);
        expect(
          (await fetch(`${berth.url}/v1/events`, { headers: { accept: 'text/event-stream' } })).status,
        ).toBe(401);
      } finally {
        aliceAll.close();
      }
    });
  });

  it('removes its listener when the client goes, polls the store, and keeps idle streams alive', async () => {
    const timing = { ...EVENT_STREAM_TIMING };
    EVENT_STREAM_TIMING.keepaliveMs = 400;
    EVENT_STREAM_TIMING.pollMs = 200;
    try {
      await withBerth({}, async (berth) => {
        const notifier = berth.daemon.eventNotifier;
        const baseline = notifier.listenerCount;
        const streams = await Promise.all([
          openStream(berth, '/v1/events'),
          openStream(berth, '/v1/events?after=now'),
        ]);
        await waitUntil(() => notifier.listenerCount === baseline + 2, 'two subscribed streams');
        const ws = await create(berth, 'sse-poll');
        try {
          for (const s of streams) await s.eventsUntil((e) => e.type === 'workspace.running');
          // An idle stream gets keepalive comments.
          let frame: Frame;
          do frame = await streams[0].next(5_000);
          while (frame.comment === undefined);
          expect(frame.raw).toBe(': keepalive\n\n');

          // An event written by someone else (another process on the same store) raises no in-process
          // signal: the poll finds it.
          const db = new SQLite(join(berth.dataDir, 'berth.db'));
          try {
            db.prepare(
              'INSERT INTO workspace_events (workspace_id, at, type, status, message) VALUES (?, ?, ?, NULL, ?)',
            ).run(ws.id, new Date().toISOString(), 'test.external', 'from another process');
          } finally {
            db.close();
          }
          const external = await streams[1].eventsUntil((e) => e.type === 'test.external', 5_000);
          expect(external.at(-1)).toMatchObject({ workspaceId: ws.id, message: 'from another process' });
        } finally {
          for (const s of streams) s.close();
        }
        await waitUntil(() => notifier.listenerCount === baseline, 'the listeners to go');
        expect((await berth.api('DELETE', `/v1/workspaces/${ws.id}`)).status).toBe(204);
      });
    } finally {
      Object.assign(EVENT_STREAM_TIMING, timing);
    }
  });
});
