import type { Page, Workspace, WorkspaceEvent } from '@berth/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb } from '../src/store/db.js';
import { WorkspaceRepo } from '../src/store/workspace-repo.js';
import { reopenBerth, startBerth, type TestBerth, withBerth } from './harness.js';
import { StreamClient } from './ws-client.js';

// One daemon for the activity tests, which run side by side: each watches its own workspace.
// Idle timeouts of 2 s make "still running after 4.5 s" meaningful.
let berth: TestBerth;
beforeAll(async () => {
  berth = await startBerth({
    config: {
      runtimes: {
        web: {
          image: 'berth-shell:0.1.0',
          port: 8080,
          command: [
            'sh',
            '-c',
            'mkdir -p /tmp/www && echo hi > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www',
          ],
        },
        // One line (the log response starts with the first one), then silence.
        quiet: { image: 'berth-shell:0.1.0', command: ['sh', '-c', 'echo up; exec sleep 100000'] },
      },
    },
  });
});
afterAll(async () => {
  await berth?.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function create(on: TestBerth, body: Record<string, unknown>): Promise<Workspace> {
  const res = await on.api<Workspace>('POST', '/v1/workspaces', { body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body.status).toBe('running');
  return res.body;
}

const get = async (id: string) => (await berth.api<Workspace>('GET', `/v1/workspaces/${id}`)).body;

/** Polls until the workspace is stopped (10 s at most) and returns it. */
async function untilStopped(id: string): Promise<Workspace> {
  let ws = await get(id);
  for (let i = 0; i < 100 && ws.status !== 'stopped'; i++) {
    await sleep(100);
    ws = await get(id);
  }
  expect(ws.status).toBe('stopped');
  return ws;
}

async function idleEvent(id: string): Promise<WorkspaceEvent | undefined> {
  const events = await berth.api<Page<WorkspaceEvent>>('GET', `/v1/workspaces/${id}/events`);
  return events.body.items.find((e) => e.type === 'workspace.idle_timeout');
}

/** Runs `act` every 500 ms for `ms`, then checks the workspace is still running. */
async function keepBusy(id: string, ms: number, act: () => Promise<unknown>): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    await act();
    await sleep(500);
  }
  expect((await get(id)).status).toBe('running');
}

describe.concurrent('idle timeout', () => {
  it('stops a workspace nobody uses, as the system, with an idle_timeout event', async () => {
    const ws = await create(berth, { idleTimeoutMs: 2000 });
    expect(ws.idleTimeoutMs).toBe(2000);
    const started = Date.now();
    const stopped = await untilStopped(ws.id);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    expect(stopped.desiredState).toBe('stopped');
    const event = await idleEvent(ws.id);
    expect(event?.data).toMatchObject({ idleTimeoutMs: 2000 });
    expect(event?.data?.idleMs as number).toBeGreaterThanOrEqual(2000);
    await berth.api('DELETE', `/v1/workspaces/${ws.id}`);
  });

  it('counts each exec, and stops once they end', async () => {
    const ws = await create(berth, { idleTimeoutMs: 2000 });
    await keepBusy(ws.id, 4500, () =>
      berth.api('POST', `/v1/workspaces/${ws.id}/exec`, { body: { cmd: ['true'] } }),
    );
    const lastExec = Date.now();
    await untilStopped(ws.id);
    expect(Date.now() - lastExec).toBeGreaterThanOrEqual(1500);
    await berth.api('DELETE', `/v1/workspaces/${ws.id}`);
  });

  it('keeps a workspace with an open terminal running without any input', async () => {
    const ws = await create(berth, { idleTimeoutMs: 2000 });
    const term = await StreamClient.open(berth, `/v1/workspaces/${ws.id}/terminals/stream`, {
      prefixed: false,
    });
    try {
      term.send({ type: 'start', cols: 80, rows: 24 });
      await term.waitFor('started');
      await sleep(4500);
      expect((await get(ws.id)).status).toBe('running');
    } finally {
      term.close();
    }
    await untilStopped(ws.id);
    await berth.api('DELETE', `/v1/workspaces/${ws.id}`);
  });

  it('keeps a workspace whose logs are followed running', async () => {
    const ws = await create(berth, { runtime: 'quiet', idleTimeoutMs: 2000 });
    const abort = new AbortController();
    try {
      const res = await fetch(`${berth.url}/v1/workspaces/${ws.id}/logs?follow=true`, {
        headers: { authorization: `Bearer ${berth.token}` },
        signal: abort.signal,
      });
      expect(res.status).toBe(200);
      await sleep(4500);
      expect((await get(ws.id)).status).toBe('running');
    } finally {
      abort.abort();
    }
    await untilStopped(ws.id);
    await berth.api('DELETE', `/v1/workspaces/${ws.id}`);
  });

  it('counts proxied HTTP requests', async () => {
    const ws = await create(berth, {
      runtime: 'web',
      idleTimeoutMs: 2000,
      readiness: { tcp: { port: 8080 }, timeoutMs: 10_000, intervalMs: 100 },
    });
    await keepBusy(ws.id, 4500, async () => {
      const res = await fetch(`${berth.url}/v1/workspaces/${ws.id}/ports/8080/index.html`, {
        headers: { authorization: `Bearer ${berth.token}` },
      });
      expect(await res.text()).toBe('hi\n');
    });
    await untilStopped(ws.id);
    await berth.api('DELETE', `/v1/workspaces/${ws.id}`);
  });

  it('counts keepalive, which answers 409 once the workspace is stopped', async () => {
    const ws = await create(berth, { idleTimeoutMs: 2000 });
    await keepBusy(ws.id, 4500, async () => {
      const res = await berth.api<Workspace>('POST', `/v1/workspaces/${ws.id}/keepalive`);
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(ws.id);
      expect(Date.now() - Date.parse(res.body.lastActivityAt!)).toBeLessThan(1000);
    });
    await untilStopped(ws.id);
    const refused = await berth.api('POST', `/v1/workspaces/${ws.id}/keepalive`);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'invalid_state' });
    await berth.api('DELETE', `/v1/workspaces/${ws.id}`);
  });

  it('gives a workspace started again a fresh idle period', async () => {
    const ws = await create(berth, { idleTimeoutMs: 2500 });
    await berth.api('POST', `/v1/workspaces/${ws.id}/exec`, { body: { cmd: ['true'] } });
    expect((await berth.api<Workspace>('POST', `/v1/workspaces/${ws.id}/stop`)).body.status).toBe('stopped');
    await sleep(3000); // longer than the idle timeout: the last activity is stale by now
    expect((await berth.api<Workspace>('POST', `/v1/workspaces/${ws.id}/start`)).body.status).toBe('running');
    const started = Date.now();
    await sleep(1200);
    expect((await get(ws.id)).status).toBe('running');
    await untilStopped(ws.id);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(await idleEvent(ws.id)).toBeDefined();
    await berth.api('DELETE', `/v1/workspaces/${ws.id}`);
  });

  it('deletes a workspace at its ttl even while it is in use', async () => {
    const ws = await create(berth, { ttlMs: 3000, idleTimeoutMs: 60_000 });
    const created = Date.parse(ws.createdAt);
    for (let i = 0; i < 40; i++) {
      const res = await berth.api('POST', `/v1/workspaces/${ws.id}/exec`, { body: { cmd: ['true'] } });
      if (res.status === 404 || (await berth.api('GET', `/v1/workspaces/${ws.id}`)).status === 404) break;
      await sleep(250);
    }
    expect((await berth.api('GET', `/v1/workspaces/${ws.id}`)).status).toBe(404);
    expect(Date.now() - created).toBeGreaterThanOrEqual(3000);
    const db = await openDb({ dataDir: berth.dataDir });
    try {
      const repo = new WorkspaceRepo(db);
      expect((await repo.getById(ws.id, true))?.status).toBe('deleted');
      const types = (await repo.listEvents(ws.id, 0, 100)).map((e) => e.type);
      expect(types).toContain('workspace.ttl_expired');
      expect(types.indexOf('workspace.ttl_expired')).toBeLessThan(types.indexOf('workspace.deleting'));
    } finally {
      await db.close();
    }
    const { containers } = await berth.leftovers();
    expect(containers.filter((c) => c === ws.containerId)).toEqual([]);
  });
});

describe('lastActivityAt', () => {
  it('shows on GET and survives a daemon restart', async () => {
    await withBerth({}, async (first) => {
      const ws = await create(first, {});
      expect(ws.lastActivityAt).toBeNull();
      await first.api('POST', `/v1/workspaces/${ws.id}/exec`, { body: { cmd: ['true'] } });
      let seen: string | null = null;
      for (let i = 0; i < 50 && seen === null; i++) {
        seen = (await first.api<Workspace>('GET', `/v1/workspaces/${ws.id}`)).body.lastActivityAt;
        if (seen === null) await sleep(100);
      }
      expect(seen).not.toBeNull();
      expect(Math.abs(Date.now() - Date.parse(seen!))).toBeLessThan(10_000);
      await first.daemon.close();
      const again = await reopenBerth(first);
      try {
        const res = await fetch(`${again.url}/v1/workspaces/${ws.id}`, {
          headers: { authorization: `Bearer ${first.token}` },
        });
        const body = (await res.json()) as Workspace;
        // The closing daemon wrote the latest activity it had seen: never older than the one shown.
        expect(Date.parse(body.lastActivityAt!)).toBeGreaterThanOrEqual(Date.parse(seen!));
      } finally {
        await again.close();
      }
    });
  });
});
