import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDaemon } from '../../server/src/index.js';
import { withBerth } from '../../server/test/harness.js';
import { Berth, type ReconnectInfo, type WorkspaceEvent } from '../src/index.js';

async function waitUntil(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const increasing = (events: WorkspaceEvent[]) => events.every((e, i) => i === 0 || e.id > events[i - 1]!.id);

describe('SDK event streams against a real daemon', () => {
  it('streams live events until the signal aborts, and a workspace stream ends with its deletion', async () => {
    await withBerth({}, async (server) => {
      const berth = new Berth({ url: server.url, token: server.token });
      const abort = new AbortController();
      const seen: WorkspaceEvent[] = [];
      const loop = (async () => {
        for await (const e of berth.events.stream({ signal: abort.signal })) seen.push(e);
      })();
      const ws = await berth.workspaces.create({ name: 'sdk-sse' });
      await waitUntil(() => seen.some((e) => e.type === 'workspace.running'), 'workspace.running');
      abort.abort();
      await loop; // ends without an error
      expect(seen[0]).toMatchObject({ type: 'workspace.created', workspaceId: ws.id });
      expect(increasing(seen)).toBe(true);

      const history = (async () => {
        const out: WorkspaceEvent[] = [];
        for await (const e of ws.streamEvents()) out.push(e);
        return out;
      })();
      await ws.delete();
      const all = await history;
      expect(all[0]?.type).toBe('workspace.created');
      expect(all.at(-1)?.type).toBe('workspace.deleted');
      expect(all).toEqual((await berth.events.list({ limit: 500 })).items);
    });
  });

  it('reconnects across a server restart and resumes without gaps or duplicates', async () => {
    await withBerth({}, async (server) => {
      const port = Number(new URL(server.url).port);
      const berth = new Berth({ url: server.url, token: server.token });
      const reconnects: ReconnectInfo[] = [];
      const seen: WorkspaceEvent[] = [];
      const abort = new AbortController();
      const stream = berth.events.stream({
        signal: abort.signal,
        retryDelayMs: 50,
        maxRetryDelayMs: 500,
        onReconnect: (info) => reconnects.push(info),
      });
      const loop = (async () => {
        for await (const e of stream) seen.push(e);
      })();
      const ws = await berth.workspaces.create({ name: 'sdk-sse-restart' });
      await waitUntil(() => seen.some((e) => e.type === 'workspace.running'), 'workspace.running');

      await server.daemon.close();
      const again = await runDaemon({
        port,
        dataDir: server.dataDir,
        env: { ...process.env, BERTH_ADMIN_TOKEN: server.token },
        print: () => {},
        logDestination: createWriteStream(join(server.dataDir, 'berth-restarted.log')),
      });
      try {
        expect(again.url).toBe(server.url);
        await ws.stop();
        await waitUntil(() => seen.some((e) => e.type === 'workspace.stopped'), 'workspace.stopped');
        expect(reconnects.length).toBeGreaterThan(0);
        expect(reconnects.every((r) => r.lastEventId > 0)).toBe(true);
        expect(increasing(seen)).toBe(true);
        const stored = (await berth.events.list({ limit: 500 })).items;
        expect(seen).toEqual(stored.filter((e) => e.id <= seen.at(-1)!.id));
        await ws.delete();
      } finally {
        abort.abort();
        await loop;
        await again.close();
      }
    });
  });
});
