import { createServer } from 'node:net';
import type { Preview, Workspace } from '@berth/protocol';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { execIn, withBerth } from './harness.js';

/** Starts busybox httpd inside the workspace after a delay, as a slow agent would. */
const httpdAfter = (seconds: number, port: number) => [
  'sh',
  '-c',
  `mkdir -p /tmp/www && echo "hello from $HOSTNAME" > /tmp/www/index.html && echo ok > /tmp/www/healthz && sleep ${seconds} && exec httpd -f -p ${port} -h /tmp/www`,
];

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });

describe('readiness', () => {
  it('keeps a workspace starting until its probe passes (http, tcp, command)', async () => {
    await withBerth(
      {
        config: {
          runtimes: { web: { image: 'berth-shell:0.1.0', port: 8080, command: httpdAfter(1.5, 8080) } },
        },
      },
      async (berth) => {
        for (const readiness of [
          { http: { port: 8080, path: '/healthz' }, timeoutMs: 20_000, intervalMs: 200 },
          { tcp: { port: 8080 }, timeoutMs: 20_000, intervalMs: 200 },
          {
            command: ['wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:8080/healthz'],
            timeoutMs: 20_000,
            intervalMs: 200,
          },
        ]) {
          const started = Date.now();
          const res = await berth.api<Workspace>('POST', '/v1/workspaces', {
            body: { runtime: 'web', readiness },
          });
          expect(res.body.status, JSON.stringify(res.body.error)).toBe('running');
          expect(res.body.readiness).toMatchObject(readiness);
          expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
          const page = await fetch(res.body.endpoints[0]!.url);
          expect(await page.text()).toMatch(/hello from/);
          await berth.api('DELETE', `/v1/workspaces/${res.body.id}`);
        }
      },
    );
  });

  it('fails with readiness_failed and the last result when the probe never passes', async () => {
    await withBerth({}, async (berth) => {
      const res = await berth.api<Workspace>('POST', '/v1/workspaces', {
        body: { readiness: { http: { port: 8000, path: '/nope' }, timeoutMs: 1500, intervalMs: 200 } },
      });
      expect(res.body.status).toBe('failed');
      expect(res.body.error?.code).toBe('readiness_failed');
      expect(res.body.error?.message).toMatch(/HTTP GET :8000\/nope did not pass within 1500 ms/);
      expect(res.body.error?.message).toMatch(/last result: \w+/);
      const bad = await berth.api('POST', '/v1/workspaces', { body: { readiness: { tcp: { port: 9999 } } } });
      expect(bad.status).toBe(400);
      const tier1 = await berth.api('POST', '/v1/workspaces', {
        body: { tier: 1, readiness: { tcp: { port: 8000 } } },
      });
      expect(tier1.status).toBe(400);
      const both = await berth.api('POST', '/v1/workspaces', {
        body: { readiness: { tcp: { port: 8000 }, command: ['true'] } },
      });
      expect(both.status).toBe(400);
    });
  });
});

describe('port proxy', () => {
  it('reaches a declared port through Berth with the token, which never reaches the workspace', async () => {
    await withBerth(
      {
        config: {
          runtimes: { web: { image: 'berth-shell:0.1.0', port: 8080, command: httpdAfter(0, 8080) } },
        },
      },
      async (berth) => {
        const ws = (
          await berth.api<Workspace>('POST', '/v1/workspaces', {
            body: { runtime: 'web', ports: [3000], readiness: { tcp: { port: 8080 }, timeoutMs: 10_000 } },
          })
        ).body;
        expect(ws.status).toBe('running');
        // A CGI script inside echoes the headers it received.
        await execIn(ws.containerId!, [
          'sh',
          '-c',
          'mkdir -p /tmp/www/cgi-bin && printf "#!/bin/sh\\necho Content-Type: text/plain\\necho\\nenv\\n" > /tmp/www/cgi-bin/env && chmod +x /tmp/www/cgi-bin/env',
        ]);
        const res = await fetch(`${berth.url}/v1/workspaces/${ws.id}/ports/8080/index.html`, {
          headers: { authorization: `Bearer ${berth.token}` },
        });
        expect(res.status).toBe(200);
        expect(await res.text()).toMatch(/hello from/);
        const env = await (
          await fetch(`${berth.url}/v1/workspaces/${ws.name}/ports/8080/cgi-bin/env?x=1`, {
            headers: { authorization: `Bearer ${berth.token}`, 'x-custom': 'passed' },
          })
        ).text();
        expect(env).toContain('HTTP_X_CUSTOM=passed');
        expect(env).toContain('QUERY_STRING=x=1');
        expect(env).not.toContain(berth.token);
        expect(env).not.toMatch(/HTTP_AUTHORIZATION/);

        const undeclared = await fetch(`${berth.url}/v1/workspaces/${ws.id}/ports/22/`, {
          headers: { authorization: `Bearer ${berth.token}` },
        });
        expect(undeclared.status).toBe(404);
        expect(((await undeclared.json()) as { code: string }).code).toBe('port_not_declared');
        const anonymous = await fetch(`${berth.url}/v1/workspaces/${ws.id}/ports/8080/`);
        expect(anonymous.status).toBe(401);
        const nothing = await fetch(`${berth.url}/v1/workspaces/${ws.id}/ports/3000/`, {
          headers: { authorization: `Bearer ${berth.token}` },
        });
        expect(nothing.status).toBe(502);
      },
    );
  });

  it('gives browsers a preview URL that becomes a cookie scoped to the port', async () => {
    await withBerth(
      {
        config: {
          runtimes: { web: { image: 'berth-shell:0.1.0', port: 8080, command: httpdAfter(0, 8080) } },
        },
      },
      async (berth) => {
        const ws = (
          await berth.api<Workspace>('POST', '/v1/workspaces', {
            body: { runtime: 'web', readiness: { tcp: { port: 8080 } } },
          })
        ).body;
        const preview = await berth.api<Preview>('POST', `/v1/workspaces/${ws.id}/previews`, {
          body: { port: 8080, ttlMs: 60_000 },
        });
        expect(preview.status).toBe(201);
        const first = await fetch(`${berth.url}${preview.body.path}`, { redirect: 'manual' });
        expect(first.status).toBe(302);
        expect(first.headers.get('location')).toBe(`/v1/workspaces/${ws.id}/ports/8080/`);
        const cookie = first.headers.get('set-cookie')!;
        expect(cookie).toMatch(/HttpOnly/);
        expect(cookie).toContain(`Path=/v1/workspaces/${ws.id}/ports/8080/`);
        const page = await fetch(`${berth.url}/v1/workspaces/${ws.id}/ports/8080/`, {
          headers: { cookie: cookie.split(';')[0]! },
        });
        expect(page.status).toBe(200);
        expect(await page.text()).toMatch(/hello from/);
        // The cookie opens only that port of that workspace, and forged tokens open nothing.
        const other = await fetch(`${berth.url}/v1/workspaces/${ws.id}/ports/8000/`, {
          headers: { cookie: cookie.split(';')[0]! },
        });
        expect(other.status).toBe(401);
        const forged = await fetch(
          `${berth.url}/v1/workspaces/${ws.id}/ports/8080/?berth_preview=${preview.body.token.slice(0, -2)}xx`,
        );
        expect(forged.status).toBe(401);
        expect(
          (await berth.api('POST', `/v1/workspaces/${ws.id}/previews`, { body: { port: 9 } })).status,
        ).toBe(404);
      },
    );
  });

  it('proxies WebSocket upgrades', async () => {
    // A tier-4 workspace shares the host's network, so a port it declares is a host port: the test
    // serves a WebSocket echo there, and Berth's proxy must carry the upgrade and the frames.
    const port = await freePort();
    const server = new WebSocketServer({ port, host: '127.0.0.1' });
    server.on('connection', (socket, req) => {
      socket.send(`hello ${String(req.headers['x-forwarded-prefix'])}`);
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    });
    try {
      await withBerth({ config: { tiers: { allowPrivileged: true } } }, async (berth) => {
        const ws = (
          await berth.api<Workspace>('POST', '/v1/workspaces', { body: { tier: 4, ports: [port] } })
        ).body;
        expect(ws.status).toBe('running');
        const socket = new WebSocket(
          `${berth.url.replace('http', 'ws')}/v1/workspaces/${ws.id}/ports/${port}/echo`,
          {
            headers: { authorization: `Bearer ${berth.token}` },
          },
        );
        const received: string[] = [];
        socket.on('message', (d: Buffer) => received.push(d.toString()));
        await new Promise((resolve, reject) => {
          socket.once('open', resolve);
          socket.once('error', reject);
        });
        socket.send('ping-through-berth');
        for (let i = 0; i < 50 && received.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
        socket.close();
        expect(received).toEqual([`hello /v1/workspaces/${ws.id}/ports/${port}`, 'ping-through-berth']);
      });
    } finally {
      server.close();
    }
  });
});
