import { ROUTES, type CreatedApiToken, type Page, type Workspace } from '@berth/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreatedApiTokenSchema,
  ErrorBodySchema,
  RuntimeInfoSchema,
  SystemInfoSchema,
} from '../src/api/schemas.js';
import { startBerth, type TestBerth } from './harness.js';

let berth: TestBerth;
beforeAll(async () => {
  berth = await startBerth();
});
afterAll(async () => {
  await berth.cleanup();
});

describe('authentication', () => {
  it('refuses /v1 without a valid bearer token (401 unauthenticated), but serves health and OpenAPI', async () => {
    for (const token of [null, 'wrong-token-wrong-token', '']) {
      const res = await berth.api('GET', '/v1/workspaces', { token });
      expect(res.status).toBe(401);
      expect(ErrorBodySchema.parse(res.body).code).toBe('unauthenticated');
    }
    const basic = await berth.api('GET', '/v1/workspaces', {
      token: null,
      headers: { authorization: 'Basic YTpi' },
    });
    expect(basic.status).toBe(401);
    expect((await berth.api('GET', '/healthz', { token: null })).status).toBe(200);
    expect((await berth.api('GET', '/v1/openapi.json', { token: null })).status).toBe(200);
  });

  it('scopes user tokens to their own workspaces (B32) and keeps admin-only routes for admins', async () => {
    const mk = async (name: string) => {
      const res = await berth.api<CreatedApiToken>('POST', '/v1/tokens', { body: { name, scope: 'user' } });
      expect(res.status).toBe(201);
      return CreatedApiTokenSchema.parse(res.body);
    };
    const alice = await mk('alice');
    const bob = await mk('bob');
    expect(alice.secret).toMatch(/^berth_/);

    const ws = await berth.api<Workspace>('POST', '/v1/workspaces', {
      body: { name: 'alice-ws' },
      token: alice.secret,
    });
    expect(ws.status).toBe(201);
    expect(ws.body.owner).toBe(alice.token.id);

    const bobGet = await berth.api('GET', `/v1/workspaces/${ws.body.id}`, { token: bob.secret });
    expect(bobGet.status).toBe(404);
    expect((await berth.api('GET', '/v1/workspaces/alice-ws', { token: bob.secret })).status).toBe(404);
    expect(
      (await berth.api<Page<Workspace>>('GET', '/v1/workspaces', { token: bob.secret })).body.items,
    ).toEqual([]);
    expect((await berth.api('POST', `/v1/workspaces/${ws.body.id}/stop`, { token: bob.secret })).status).toBe(
      404,
    );
    // Delete of something not visible is "already gone" (no enumeration) and touches nothing.
    expect((await berth.api('DELETE', `/v1/workspaces/${ws.body.id}`, { token: bob.secret })).status).toBe(
      204,
    );
    expect(
      (await berth.api<Workspace>('GET', `/v1/workspaces/${ws.body.id}`, { token: alice.secret })).body
        .status,
    ).toBe('running');
    // The admin sees everything.
    const all = await berth.api<Page<Workspace>>('GET', '/v1/workspaces');
    expect(all.body.items.map((w) => w.id)).toContain(ws.body.id);

    expect((await berth.api('POST', '/v1/tokens', { body: { name: 'x' }, token: alice.secret })).status).toBe(
      403,
    );
    expect((await berth.api('GET', '/v1/tokens', { token: alice.secret })).status).toBe(403);
    expect((await berth.api('POST', '/v1/images/shell/build', { token: alice.secret })).status).toBe(403);

    expect((await berth.api('DELETE', `/v1/tokens/${bob.token.id}`)).status).toBe(204);
    expect((await berth.api('GET', '/v1/workspaces', { token: bob.secret })).status).toBe(401);
    expect((await berth.api('DELETE', '/v1/tokens/tok_nonexistent')).status).toBe(404);
    const tokens = await berth.api<{ items: { id: string; revokedAt: string | null }[] }>(
      'GET',
      '/v1/tokens',
    );
    expect(tokens.body.items.find((t) => t.id === bob.token.id)?.revokedAt).not.toBeNull();

    await berth.api('DELETE', `/v1/workspaces/${ws.body.id}`, { token: alice.secret });
  });

  it('never writes the admin token or token secrets into the log (E11)', async () => {
    const created = await berth.api<CreatedApiToken>('POST', '/v1/tokens', { body: { name: 'canary' } });
    await berth.api('GET', '/v1/workspaces', { token: created.body.secret });
    await berth.api('GET', '/v1/workspaces', { token: `${berth.token}x` });
    const log = berth.log();
    expect(log.length).toBeGreaterThan(100);
    expect(log).not.toContain(berth.token);
    expect(log).not.toContain(created.body.secret);
  });
});

describe('API surface', () => {
  it('answers errors as { code, message, requestId } with an x-request-id header', async () => {
    const res = await berth.api('GET', '/v1/nothing-here');
    expect(res.status).toBe(404);
    const body = ErrorBodySchema.parse(res.body);
    expect(body.code).toBe('route_not_found');
    expect(res.headers.get('x-request-id')).toBe(body.requestId);
    const missing = await berth.api('GET', '/v1/workspaces/ws_0000000000000000');
    expect(ErrorBodySchema.parse(missing.body).code).toBe('workspace_not_found');
  });

  it('serves an OpenAPI document covering every route', async () => {
    const doc = (
      await berth.api<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(
        'GET',
        '/v1/openapi.json',
      )
    ).body;
    expect(doc.openapi).toBe('3.1.0');
    for (const route of Object.values(ROUTES)) {
      const path = route.path.replace(/:([a-z]+)/g, '{$1}');
      expect(doc.paths[path]?.[route.method.toLowerCase()], `${route.method} ${path}`).toBeDefined();
    }
  });

  it('describes the system, runtimes and images', async () => {
    const system = SystemInfoSchema.parse((await berth.api('GET', '/v1/system')).body);
    expect(system.engine?.kind).toMatch(/docker|podman/);
    expect(system.engine?.ociRuntimes).toContain(system.engine?.defaultRuntime);
    expect(system.engineHealthy).toBe(true);
    const runtimes = (await berth.api<{ items: unknown[] }>('GET', '/v1/runtimes')).body.items.map((r) =>
      RuntimeInfoSchema.parse(r),
    );
    expect(runtimes.find((r) => r.name === 'shell')).toMatchObject({
      source: 'build',
      port: 8000,
      user: '1000:1000',
    });
    const images = (await berth.api<{ items: { runtime: string; present: boolean }[] }>('GET', '/v1/images'))
      .body.items;
    expect(images.find((i) => i.runtime === 'shell')).toBeDefined();
  });
});
