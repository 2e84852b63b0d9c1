import { createServer } from 'node:net';
import type { Progress } from '@berth/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectContainer, startBerth, type TestBerth } from '../../server/test/harness.js';
import {
  AuthenticationError,
  Berth,
  ConflictError,
  ConnectionError,
  NotFoundError,
  PermissionError,
  ValidationError,
  WorkspaceFailedError,
} from '../src/index.js';

let server: TestBerth;
let berth: Berth;
beforeAll(async () => {
  server = await startBerth();
  berth = new Berth({ url: server.url, token: server.token });
});
afterAll(async () => {
  await server.cleanup();
});

describe('SDK against a real daemon', () => {
  it('creates, inspects, lists, stops, starts, restarts and deletes a workspace', async () => {
    const progress: Progress[] = [];
    const ws = await berth.workspaces.create(
      { name: 'sdk-one', labels: { suite: 'sdk' }, ports: [3000], env: { GREETING: 'hi' } },
      { onProgress: (p) => progress.push(p), pollIntervalMs: 20 },
    );
    try {
      expect(ws.status).toBe('running');
      expect(ws.name).toBe('sdk-one');
      expect(ws.endpoints.map((e) => e.containerPort)).toEqual([8000, 3000]);
      expect((await inspectContainer(ws.containerId!)).State.Running).toBe(true);

      const again = await berth.workspaces.get('sdk-one');
      expect(again.id).toBe(ws.id);
      const page = await berth.workspaces.list({ labels: { suite: 'sdk' } });
      expect(page.items.map((w) => w.id)).toEqual([ws.id]);

      expect((await ws.stop()).status).toBe('stopped');
      expect((await ws.start()).status).toBe('running');
      expect((await ws.restart()).status).toBe('running');
      const events = await ws.events();
      expect(events.items.map((e) => e.status).filter(Boolean)).toContain('stopped');
    } finally {
      await ws.delete();
    }
    await expect(berth.workspaces.get(ws.id)).rejects.toBeInstanceOf(NotFoundError);
    expect(await server.leftovers()).toEqual({ containers: [], volumes: [], networks: [] });
  });

  it('cleans up with `await using`', async () => {
    let id: string;
    {
      await using ws = await berth.workspaces.create({ labels: { suite: 'dispose' } });
      id = ws.id;
      expect(ws.status).toBe('running');
    }
    await expect(berth.workspaces.get(id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('throws typed errors carrying the server code, message and request id', async () => {
    const reserved = await berth.workspaces.create({ env: { LD_PRELOAD: '/x.so' } }).catch((e: unknown) => e);
    expect(reserved).toBeInstanceOf(ValidationError);
    expect(reserved).toMatchObject({ code: 'reserved_env_key', status: 400 });
    expect((reserved as ValidationError).requestId).toMatch(/^req_/);

    const missing = await berth.workspaces.get('no-such-workspace').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toMatchObject({ code: 'workspace_not_found' });

    await using _first = await berth.workspaces.create({ name: 'sdk-taken' });
    const taken = await berth.workspaces.create({ name: 'sdk-taken' }).catch((e: unknown) => e);
    expect(taken).toBeInstanceOf(ConflictError);
    expect(taken).toMatchObject({ code: 'name_conflict' });

    const tier = await berth.workspaces.create({ tier: 3 }).catch((e: unknown) => e);
    expect(tier).toBeInstanceOf(PermissionError);
    expect(tier).toMatchObject({ code: 'tier_not_allowed' });

    const bad = new Berth({ url: server.url, token: 'not-the-token-at-all' });
    const unauth = await bad.workspaces.list().catch((e: unknown) => e);
    expect(unauth).toBeInstanceOf(AuthenticationError);
    expect(String((unauth as Error).message)).not.toContain('not-the-token-at-all');
  });

  it('reports a workspace that ends failed as WorkspaceFailedError with its code', async () => {
    const err = await berth.workspaces
      .create({ image: 'registry.invalid/berth/none:1' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkspaceFailedError);
    const failed = err as WorkspaceFailedError;
    expect(failed.code).toBe('image_not_found');
    expect(failed.workspace.status).toBe('failed');
    await berth.workspaces.delete(failed.workspace.id);
  });

  it('says which URL it could not reach', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const address = s.address();
        s.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    const offline = new Berth({ url: `http://127.0.0.1:${port}`, token: 'x'.repeat(20) });
    const err = await offline.system.info().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toContain(`127.0.0.1:${port}`);
  });

  it('manages tokens and images', async () => {
    const created = await berth.tokens.create({ name: 'sdk-user', scope: 'user' });
    const user = new Berth({ url: server.url, token: created.secret });
    const own = await user.workspaces.create({ labels: { owner: 'sdk-user' } });
    try {
      expect(own.data.owner).toBe(created.token.id);
      await expect(user.tokens.list()).rejects.toBeInstanceOf(PermissionError);
    } finally {
      await own.delete();
    }
    await berth.tokens.revoke(created.token.id);
    await expect(user.workspaces.list()).rejects.toBeInstanceOf(AuthenticationError);
    const images = await berth.images.list();
    expect(images.find((i) => i.runtime === 'shell')?.present).toBe(true);
    // Followed (wait=false, then the list) when progress is wanted; held otherwise.
    const reports: string[] = [];
    const followed = await berth.images.build('shell', { onProgress: (p) => reports.push(p.message) });
    expect(followed).toMatchObject({ runtime: 'shell', present: true, progress: null, lastError: null });
    expect(reports[0]).toMatch(/preparing|building/);
    expect((await berth.images.build('shell')).present).toBe(true);
    await expect(berth.images.build('no-such-runtime', { onProgress: () => {} })).rejects.toMatchObject({
      code: 'runtime_not_found',
    });
    const info = await berth.system.info();
    expect(info.engine?.ociRuntimes.length).toBeGreaterThan(0);
  });
});
