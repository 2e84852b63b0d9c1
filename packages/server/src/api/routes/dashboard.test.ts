import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD_CSP, registerDashboard } from './dashboard.js';

/** The dashboard routes on a bare Fastify, with the app's not-found fallback (api/app.ts). */
function appWith(dir: string): FastifyInstance {
  const app = Fastify();
  const dashboard = registerDashboard(app, dir);
  app.get('/v1/things', () => Promise.resolve({ ok: true }));
  app.setNotFoundHandler((req, reply) => {
    if (dashboard.isPage(req)) return dashboard.sendIndex(reply);
    return reply.status(404).send({ code: 'route_not_found' });
  });
  return app;
}

describe('dashboard routes', () => {
  let dir: string;
  let app: FastifyInstance;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-dash-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Berth</title>');
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    app = appWith(dir);
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves index.html at / and at app paths, with the CSP and no caching', async () => {
    for (const url of ['/', '/workspaces/ws_1/logs', '/new']) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(200);
      expect(res.body).toContain('<title>Berth</title>');
      expect(res.headers['content-security-policy']).toBe(DASHBOARD_CSP);
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['x-frame-options']).toBe('DENY');
    }
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
    expect(DASHBOARD_CSP).toContain("frame-ancestors 'none'");
  });

  it('caches hashed assets for good and keeps missing files and the API out of the fallback', async () => {
    const asset = await app.inject({ url: '/assets/index-abc123.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toContain('immutable');
    expect((await app.inject({ url: '/assets/missing.js' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/v1/nothing' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/workspaces' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/v1/things' })).json()).toEqual({ ok: true });
    // Nothing outside the directory is reachable.
    expect((await app.inject({ url: '/../package.json' })).body).not.toContain('"name"');
  });

  it('answers a landing page when the dashboard is not built', async () => {
    const bare = appWith(join(dir, 'nowhere'));
    try {
      const res = await bare.inject({ url: '/' });
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('npm run build');
      expect((await bare.inject({ url: '/workspaces' })).statusCode).toBe(404);
    } finally {
      await bare.close();
    }
  });
});
