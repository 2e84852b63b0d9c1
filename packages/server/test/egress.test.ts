import { once } from 'node:events';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { Workspace, WorkspaceEvent } from '@berth/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspaceCa, LeafIssuer } from '../src/egress/ca.js';
import { PLACEHOLDERS } from '../src/egress/grants.js';
import { startDnsStub, type DnsStub } from './dns-stub.js';
import { docker, execIn, reopenBerth, until, withBerth, type TestBerth } from './harness.js';

/**
 * The egress gateway end to end (issue 5; X1-X8, E9-E12, B19-B29, F8): real workspaces on the real
 * engine, real TLS, a real DNS stub, upstream servers on 127.0.0.2 (the gateway's only private
 * exception, `egress.allowCidrs`). Tests inside a workspace go through berth-helper's forwarder
 * (busybox wget/nc); TLS tests speak to the workspace's gateway socket from the host exactly as the
 * forwarder does (preamble + token read from the workspace), with Node's TLS client trusting only
 * the workspace CA read from the workspace.
 */

const UPSTREAM_IP = '127.0.0.2';
const CANARY = `canary-secret-${Math.random().toString(36).slice(2)}-value`;

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
}

let dns: DnsStub;
let rebindCount = 0;
let httpServer: http.Server;
let httpPort = 0;
let httpsServer: https.Server;
let upstreamCaFile = '';
const seen: Seen[] = [];

/** A stub authoritative server: *.allowed.test and the granted host → 127.0.0.2, with traps. */
function answer(name: string): string | null {
  const n = name.toLowerCase();
  if (n === 'private.allowed.test') return '10.0.0.5';
  if (n === 'meta.allowed.test') return '169.254.169.254';
  if (n === 'rebind.allowed.test') return rebindCount++ === 0 ? UPSTREAM_IP : '169.254.169.254';
  if (n.endsWith('.allowed.test') || n === 'api.granted.test' || n === 'evil.test') return UPSTREAM_IP;
  return null;
}

function record(req: http.IncomingMessage): Seen {
  const s = {
    method: req.method ?? '',
    url: req.url ?? '',
    headers: req.headers,
    rawHeaders: req.rawHeaders,
  };
  seen.push(s);
  return s;
}

function upstreamHandler(req: http.IncomingMessage, res: http.ServerResponse) {
  const s = record(req);
  if (req.url === '/redirect-metadata') {
    res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
    res.end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ok: true, url: s.url, host: req.headers.host }));
}

beforeAll(async () => {
  dns = await startDnsStub(answer);

  httpServer = http.createServer(upstreamHandler);
  httpServer.listen(0, UPSTREAM_IP);
  await once(httpServer, 'listening');
  httpPort = (httpServer.address() as AddressInfo).port;

  // The "real" granted API: its own CA, which the gateway trusts via egress.upstreamCaFile.
  const ca = await createWorkspaceCa('upstream', 3_600_000);
  const leaf = await new LeafIssuer(ca.certPem, ca.keyPem, ca.notAfter).issue('api.granted.test');
  upstreamCaFile = join(tmpdir(), `berth-upstream-ca-${process.pid}.pem`);
  writeFileSync(upstreamCaFile, ca.certPem);
  httpsServer = https.createServer({ cert: leaf.cert, key: leaf.key }, upstreamHandler);
  httpsServer.listen(443, UPSTREAM_IP);
  await once(httpsServer, 'listening');
});

afterAll(() => {
  dns?.close();
  httpServer?.close();
  httpsServer?.close();
  if (upstreamCaFile) rmSync(upstreamCaFile, { force: true });
});

const config = () => ({
  egress: { dnsServers: [dns.address], allowCidrs: [`${UPSTREAM_IP}/32`], upstreamCaFile },
});

const GRANT = {
  name: 'granted',
  hosts: ['api.granted.test'],
  header: 'Authorization',
  secret: 'GRANTED_KEY',
  prefix: 'Bearer ',
};

async function create(berth: TestBerth, body: Record<string, unknown>): Promise<Workspace> {
  const res = await berth.api<Workspace>('POST', '/v1/workspaces', { body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body.status, JSON.stringify(res.body.error)).toBe('running');
  return res.body;
}

async function events(berth: TestBerth, id: string): Promise<WorkspaceEvent[]> {
  return (await berth.api<{ items: WorkspaceEvent[] }>('GET', `/v1/workspaces/${id}/events?limit=500`)).body
    .items;
}

/** Runs a shell command in the workspace as its user, through Berth (so with its env file). */
async function sh(berth: TestBerth, id: string, script: string, timeoutMs = 20_000) {
  const res = await berth.api<{ exitCode: number; stdout: string; stderr: string }>(
    'POST',
    `/v1/workspaces/${id}/exec`,
    {
      body: { cmd: ['sh', '-c', script], timeoutMs },
    },
  );
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

async function readInWorkspace(berth: TestBerth, id: string, path: string): Promise<string> {
  const out = await sh(berth, id, `cat ${path}`);
  expect(out.exitCode, out.stderr).toBe(0);
  return out.stdout;
}

/** A raw request to the in-workspace proxy port with busybox nc; the response head on stdout. */
const rawProxy = (requestLine: string) => `printf '${requestLine}\\r\\n\\r\\n' | nc -w 3 127.0.0.1 3128`;

/** A connection to the workspace's gateway socket, authenticated as the forwarder does it. */
async function gatewaySocket(berth: TestBerth, wsId: string, token: string): Promise<net.Socket> {
  const socket = net.connect(join(berth.dataDir, 'egress', wsId, 'egress.sock'));
  await once(socket, 'connect');
  socket.write(`BERTH-EGRESS ${token}\n`);
  return socket;
}

/** Sends raw bytes, reads until the peer closes or the head of a response is complete. */
function readResponse(
  socket: net.Socket | tls.TLSSocket,
  untilClose = false,
): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve) => {
    let buf = '';
    const done = () => {
      const [head = '', body = ''] = buf.split('\r\n\r\n', 2);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, head, body: buf.slice(head.length + 4) || body });
    };
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (!untilClose && /\r\n\r\n/.test(buf)) {
        const head = buf.split('\r\n\r\n')[0] ?? '';
        const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? -1);
        if (len >= 0 && buf.length >= head.length + 4 + len) done();
        else if (/^HTTP\/1\.1 200 Connection Established/.test(head)) done();
      }
    });
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', done); // a reset after the response (or instead of one) ends the read
  });
}

async function connect(berth: TestBerth, wsId: string, token: string, authority: string) {
  const socket = await gatewaySocket(berth, wsId, token);
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  const res = await readResponse(socket);
  return { socket, ...res };
}

/** One raw plain-HTTP proxy request on the gateway socket; the response as the connection ends. */
async function plainVia(berth: TestBerth, wsId: string, token: string, raw: string) {
  const socket = await gatewaySocket(berth, wsId, token);
  socket.write(raw);
  return readResponse(socket, true);
}

/** HTTPS through the gateway with the workspace's trust (its CA only). */
async function httpsVia(
  berth: TestBerth,
  ws: { id: string; token: string; ca: string },
  host: string,
  request: string,
  servername = host,
) {
  const { socket, status, head } = await connect(berth, ws.id, ws.token, `${host}:443`);
  expect(status, head).toBe(200);
  const secure = tls.connect({ socket, servername, ca: ws.ca });
  await once(secure, 'secureConnect');
  secure.write(request);
  const res = await readResponse(secure, true);
  secure.destroy();
  return res;
}

describe('egress gateway (issue 5)', () => {
  it('allowlist: only the gateway, real TLS, credentials injected only where granted, every decision recorded', async () => {
    await withBerth({ config: config() }, async (berth) => {
      const put = await berth.api('PUT', '/v1/secrets/GRANTED_KEY', { body: { value: CANARY } });
      expect(put.status, JSON.stringify(put.body)).toBeLessThan(300);
      const ws = await create(berth, {
        egress: {
          allow: [
            '*.allowed.test',
            `*.allowed.test:${httpPort}`,
            `api.granted.test:${httpPort}`,
            '169.254.169.254',
            '10.0.0.5',
            '127.0.0.1:7420',
          ],
        },
        grants: [GRANT, 'anthropic'],
      });
      expect(ws.egress.mode).toBe('allowlist');
      expect(ws.grants.map((g) => g.name)).toEqual(['granted', 'anthropic']);
      const other = await create(berth, { egress: { allow: ['*.allowed.test'] } });

      // X1/E12: no interface but loopback; nothing but the proxy port answers.
      const inspect = await docker.getContainer(ws.containerId!).inspect();
      expect(inspect.HostConfig.NetworkMode).toBe('none');
      const ifaces = await sh(berth, ws.id, "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '");
      expect(ifaces.stdout.trim().split('\n')).toEqual(['lo']);
      const bridge = (await docker.getNetwork('bridge').inspect()).IPAM?.Config?.[0]?.Gateway ?? '172.17.0.1';
      const apiPort = new URL(berth.url).port;
      for (const [host, port] of [
        [bridge, apiPort],
        [UPSTREAM_IP, String(httpPort)],
        ['1.1.1.1', '53'],
        ['169.254.169.254', '80'],
      ]) {
        const r = await sh(
          berth,
          ws.id,
          `nc -w 2 ${host} ${port} </dev/null && echo CONNECTED || echo REFUSED`,
        );
        expect(r.stdout, `${host}:${port}`).toContain('REFUSED');
      }
      const proxyPort = await sh(berth, ws.id, 'nc -w 2 127.0.0.1 3128 </dev/null && echo CONNECTED');
      expect(proxyPort.stdout).toContain('CONNECTED');

      // Through berth-helper's forwarder: an allowed name, resolved by the gateway only.
      const got = await sh(berth, ws.id, `wget -q -O - http://plain.allowed.test:${httpPort}/hello`);
      expect(got.exitCode, got.stderr).toBe(0);
      expect(JSON.parse(got.stdout)).toMatchObject({ ok: true, url: '/hello' });

      // E9: DNS from inside fails; the stub never sees a canary name, not even via the proxy.
      const before = dns.queries.length;
      const nslookup = await sh(
        berth,
        ws.id,
        `nslookup canary1.exfil.test 127.0.0.1; nslookup canary2.exfil.test ${bridge}`,
      );
      expect(nslookup.stdout + nslookup.stderr).not.toMatch(/Address:\s+\d+\.\d+\.\d+\.\d+\s*$/m);
      const viaProxy = await sh(berth, ws.id, rawProxy('GET http://canary3.exfil.test/ HTTP/1.0'));
      expect(viaProxy.stdout).toMatch(/^HTTP\/1\.1 403/);
      expect(viaProxy.stdout).toMatch(/X-Berth-Egress-Denied: not-allowed/i);
      expect(dns.queries.slice(before).filter((q) => q.includes('canary'))).toEqual([]);

      // The token, the CA and the placeholder as the workspace sees them; no credential anywhere inside.
      const token = (await readInWorkspace(berth, ws.id, '/configs/.berth/egress-token')).trim();
      const ca = await readInWorkspace(berth, ws.id, '/run/berth-egress/ca.pem');
      const tamper = await sh(berth, ws.id, 'echo x > /run/berth-egress/ca.pem || echo READ-ONLY');
      expect(tamper.stdout).toContain('READ-ONLY'); // X5: mounted read-only
      const env = await sh(berth, ws.id, 'echo "$ANTHROPIC_API_KEY|$HTTPS_PROXY|$NODE_EXTRA_CA_CERTS"');
      expect(env.stdout.trim()).toBe(
        `${PLACEHOLDERS.anthropic}|http://127.0.0.1:3128|/run/berth-egress/ca.pem`,
      );
      const grep = await sh(
        berth,
        ws.id,
        `grep -r -l '${CANARY}' /configs /tmp /proc/1/environ 2>/dev/null; echo done`,
      );
      expect(grep.stdout.trim()).toBe('done');
      const me = { id: ws.id, token, ca };

      // B25 + X4: the agent's own Authorization headers are dropped; exactly one, the real one, arrives.
      seen.length = 0;
      const injected = await httpsVia(
        berth,
        me,
        'api.granted.test',
        'GET /v1/models?x=1 HTTP/1.1\r\nHost: api.granted.test\r\nAuthorization: Bearer agent-value\r\nauthorization: Bearer second\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\nConnection: close\r\n\r\n',
      );
      expect(injected.status, injected.head).toBe(200);
      const upstreamSaw = seen.at(-1)!;
      expect(upstreamSaw.url).toBe('/v1/models?x=1');
      const auths = upstreamSaw.rawHeaders.filter(
        (_, i, a) => i % 2 === 0 && a[i]!.toLowerCase() === 'authorization',
      );
      expect(auths).toHaveLength(1);
      expect(upstreamSaw.headers.authorization).toBe(`Bearer ${CANARY}`);
      expect(upstreamSaw.headers['proxy-authorization']).toBeUndefined();

      // B22: SNI or Host naming another host inside a granted tunnel.
      await expect(
        httpsVia(berth, me, 'api.granted.test', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'other.allowed.test'),
      ).rejects.toThrow();
      const fronted = await httpsVia(
        berth,
        me,
        'api.granted.test',
        'GET / HTTP/1.1\r\nHost: other.allowed.test\r\nConnection: close\r\n\r\n',
      );
      expect(fronted.status).toBe(421);
      expect(fronted.head).toMatch(/x-berth-egress-denied: host-mismatch/i);

      // B23/B24: cleartext to the granted host gets no credential; a placeholder sent anywhere is refused.
      seen.length = 0;
      const plainRes = await plainVia(
        berth,
        ws.id,
        token,
        `GET http://api.granted.test:${httpPort}/clear HTTP/1.1\r\nHost: api.granted.test:${httpPort}\r\nAuthorization: Bearer mine\r\nConnection: close\r\n\r\n`,
      );
      expect(plainRes.status).toBe(200);
      expect(seen.at(-1)?.headers.authorization).toBe('Bearer mine');
      const leakRes = await plainVia(
        berth,
        ws.id,
        token,
        `GET http://plain.allowed.test:${httpPort}/?k=${PLACEHOLDERS.anthropic} HTTP/1.1\r\nHost: plain.allowed.test:${httpPort}\r\nConnection: close\r\n\r\n`,
      );
      expect(leakRes.status).toBe(403);
      expect(leakRes.head).toMatch(/x-berth-egress-denied: placeholder/i);

      // B27: an upstream redirect to the metadata address is passed back, never followed; following it is refused.
      const redirect = await httpsVia(
        berth,
        me,
        'api.granted.test',
        'GET /redirect-metadata HTTP/1.1\r\nHost: api.granted.test\r\nConnection: close\r\n\r\n',
      );
      expect(redirect.status).toBe(302);
      const followRes = await plainVia(
        berth,
        ws.id,
        token,
        'GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n',
      );
      expect(followRes.status).toBe(403);
      expect(followRes.head).toMatch(/x-berth-egress-denied: address/i);

      // B19/E10: every spelling of the metadata address, private ranges and the host, even when a
      // rule allows the IP: refused at dial time. Names not in the allowlist: refused before DNS.
      const cases: [string, number, string][] = [
        ['169.254.169.254:443', 403, 'address'],
        ['2852039166:443', 403, 'address'],
        ['0xa9fea9fe:443', 403, 'address'],
        ['0251.0376.0251.0376:443', 403, 'address'],
        ['[::ffff:a9fe:a9fe]:443', 403, 'not-allowed'],
        ['[fd00:ec2::254]:443', 403, 'not-allowed'],
        ['127.0.0.1:7420', 403, 'address'],
        ['127.1:443', 403, 'not-allowed'],
        ['0.0.0.0:443', 403, 'not-allowed'],
        ['[::]:443', 403, 'not-allowed'],
        ['localhost:443', 403, 'not-allowed'],
        ['metadata.google.internal:443', 403, 'not-allowed'],
        [`${bridge}:${apiPort}`, 403, 'not-allowed'],
        ['10.0.0.5:443', 403, 'address'],
        // E9: DNS over HTTPS or TLS to a public resolver is just another host not on the list.
        ['1.1.1.1:443', 403, 'not-allowed'],
        ['1.1.1.1:853', 403, 'not-allowed'],
        ['dns.google:443', 403, 'not-allowed'],
        // B20: an allowed wildcard name resolving to a private or metadata address.
        ['private.allowed.test:443', 403, 'address'],
        ['meta.allowed.test:443', 403, 'address'],
        // B21: host variants.
        ['api.granted.test:443@evil.test', 400, 'malformed'],
        ['api.granted.test.evil.test:443', 403, 'not-allowed'],
        ['evilgranted.test:443', 403, 'not-allowed'],
        ['xn--pi-6kc.granted.test:443', 403, 'not-allowed'], // Cyrillic а, as clients send it
        ['аpi.granted.test:443', 400, ''], // raw UTF-8 in the request line: refused by the parser
      ];
      for (const [authority, status, reason] of cases) {
        const r = await connect(berth, ws.id, token, authority);
        r.socket.destroy();
        expect(r.status, authority).toBe(status);
        if (reason) expect(r.head, authority).toMatch(new RegExp(`x-berth-egress-denied: ${reason}`, 'i'));
      }
      // B20 rebinding: the first answer is fine, the second (TTL 0) points at the metadata service.
      rebindCount = 0;
      const first = await connect(berth, ws.id, token, `rebind.allowed.test:${httpPort}`);
      first.socket.destroy();
      expect(first.status).toBe(200);
      const second = await connect(berth, ws.id, token, `rebind.allowed.test:${httpPort}`);
      second.socket.destroy();
      expect(second.status).toBe(403);
      // Upper case and a trailing dot are the same host (B21).
      const variant = await connect(berth, ws.id, token, `PLAIN.ALLOWED.TEST.:${httpPort}`);
      variant.socket.destroy();
      expect(variant.status).toBe(200);

      // B26/B28: smuggling and upgrades are refused and the connection closed.
      for (const raw of [
        `POST http://plain.allowed.test:${httpPort}/ HTTP/1.1\r\nHost: plain.allowed.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
        `GET http://plain.allowed.test:${httpPort}/ HTTP/1.1\r\nHost: plain.allowed.test\r\nX-Folded: a\r\n b\r\n\r\n`,
        `GET http://plain.allowed.test:${httpPort}/ HTTP/1.1\r\nHost: plain.allowed.test\r\nX-Big: ${'a'.repeat(1024 * 1024)}\r\n\r\n`,
        `GET http://plain.allowed.test:${httpPort}/ HTTP/1.1\r\nHost: plain.allowed.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
      ]) {
        const s = await gatewaySocket(berth, ws.id, token);
        s.on('error', () => {});
        s.write(raw);
        const r = await readResponse(s, true);
        // 0: the gateway closed the connection while the oversized head was still being sent.
        expect([400, 431, 501, 0], raw.slice(0, 120)).toContain(r.status);
        expect(s.destroyed || s.readableEnded).toBe(true);
      }

      // B29: another workspace's token, or none, on this workspace's socket: 407.
      const otherToken = (await readInWorkspace(berth, other.id, '/configs/.berth/egress-token')).trim();
      expect(otherToken).not.toBe(token);
      for (const t of [otherToken, '', 'bex_guess']) {
        const r = await connect(berth, ws.id, t, 'api.granted.test:443');
        r.socket.destroy();
        expect(r.status).toBe(407);
      }
      // ... and the other workspace has no grant: its tunnel to the granted host is not allowed at all.
      const noGrant = await connect(berth, other.id, otherToken, 'api.granted.test:443');
      noGrant.socket.destroy();
      expect(noGrant.status).toBe(403);

      // Policy changes apply to the next connection, without recreating the container.
      const blocked = await connect(berth, ws.id, token, `late.example.test:${httpPort}`);
      blocked.socket.destroy();
      expect(blocked.status).toBe(403);
      const patch = await berth.api<Workspace>('PATCH', `/v1/workspaces/${ws.id}/egress`, {
        body: { deny: [`plain.allowed.test:${httpPort}`] },
      });
      expect(patch.status, JSON.stringify(patch.body)).toBe(200);
      expect(patch.body.containerId).toBe(ws.containerId);
      const nowDenied = await sh(
        berth,
        ws.id,
        rawProxy(`GET http://plain.allowed.test:${httpPort}/ HTTP/1.0`),
      );
      expect(nowDenied.stdout).toMatch(/X-Berth-Egress-Denied: deny-rule/i);
      // A new grant's placeholder reaches new commands at once, written by berth-helper (not the
      // engine's archive API into the running container, E7); the container is still the same.
      const regrant = await berth.api<Workspace>('PATCH', `/v1/workspaces/${ws.id}/egress`, {
        body: { grants: [GRANT, 'anthropic', 'openai'] },
      });
      expect(regrant.status, JSON.stringify(regrant.body)).toBe(200);
      expect(regrant.body.containerId).toBe(ws.containerId);
      const openaiEnv = await sh(berth, ws.id, 'echo "$OPENAI_API_KEY"');
      expect(openaiEnv.stdout.trim()).toBe(PLACEHOLDERS.openai);
      // Bad updates: a clear 400 with a stable code, and nothing changes.
      for (const body of [
        { mode: 'open' },
        { allow: ['http://x.example'] },
        { grants: ['nope'] },
        { extra: 1 },
      ]) {
        const bad = await berth.api<{ code: string }>('PATCH', `/v1/workspaces/${ws.id}/egress`, { body });
        expect(bad.status, JSON.stringify(body)).toBe(400);
        expect(bad.body.code).toBe('validation_failed');
      }
      const after = (await berth.api<Workspace>('GET', `/v1/workspaces/${ws.id}`)).body;
      expect(after.egress).toEqual(regrant.body.egress);
      expect(after.grants).toEqual(regrant.body.grants);

      // X8: decisions are events, with the grant's name and never its value.
      const evs = await events(berth, ws.id);
      const types = new Set(evs.map((e) => e.type));
      for (const t of ['egress.allowed', 'egress.denied', 'egress.injected', 'workspace.egress_updated']) {
        expect(types.has(t), t).toBe(true);
      }
      expect(evs.find((e) => e.type === 'egress.injected')?.data).toMatchObject({
        grant: 'granted',
        host: 'api.granted.test',
      });

      // E11: the canary is nowhere but the upstream.
      const haystacks = [
        JSON.stringify(await docker.getContainer(ws.containerId!).inspect()),
        (await docker.getContainer(ws.containerId!).logs({ stdout: true, stderr: true })).toString(),
        JSON.stringify((await berth.api('GET', `/v1/workspaces/${ws.id}`)).body),
        JSON.stringify((await berth.api('GET', '/v1/secrets')).body),
        JSON.stringify(evs),
        JSON.stringify((await berth.api('GET', '/v1/events?limit=500')).body),
        berth.log(),
      ];
      for (const h of haystacks) expect(h).not.toContain(CANARY);
      expect(JSON.stringify(inspect.Config.Env)).not.toMatch(/ANTHROPIC_API_KEY|egress-token=|bex_/);
    });
  });

  it('tier 1 (gVisor where the engine has it) reaches allowed names through the same gateway, and nothing else', async () => {
    await withBerth({ config: config() }, async (berth) => {
      const ws = await create(berth, { tier: 1, egress: { allow: [`*.allowed.test:${httpPort}`] } });
      expect(ws.egress.mode).toBe('allowlist');
      // nc, not busybox wget: under gVisor's netstack busybox wget misreads EAGAIN on its socket.
      const ok = await sh(berth, ws.id, rawProxy(`GET http://t1.allowed.test:${httpPort}/tier1 HTTP/1.0`));
      expect(ok.stdout).toMatch(/^HTTP\/1\.1 200/);
      expect(ok.stdout).toContain('"url":"/tier1"');
      const denied = await sh(berth, ws.id, rawProxy(`GET http://${UPSTREAM_IP}:${httpPort}/ HTTP/1.0`));
      expect(denied.stdout).toMatch(/^HTTP\/1\.1 403/);
      const direct = await sh(
        berth,
        ws.id,
        `nc -w 2 ${UPSTREAM_IP} ${httpPort} </dev/null && echo CONNECTED || echo REFUSED`,
      );
      expect(direct.stdout).toContain('REFUSED');
      // Tier 1 without rules or grants stays `none`: no gateway, no proxy port.
      const none = await create(berth, { tier: 1 });
      expect(none.egress.mode).toBe('none');
      const port = await sh(
        berth,
        none.id,
        'nc -w 2 127.0.0.1 3128 </dev/null && echo CONNECTED || echo REFUSED',
      );
      expect(port.stdout).toContain('REFUSED');
    });
  });

  it('fails closed: a missing grant secret is refused, a stopped gateway means no egress, a restarted one recovers (X7, F8)', async () => {
    await withBerth({ config: config() }, async (berth) => {
      const ws = await create(berth, { egress: { allow: [`*.allowed.test:${httpPort}`] }, grants: [GRANT] });
      const token = (await readInWorkspace(berth, ws.id, '/configs/.berth/egress-token')).trim();
      const ca = await readInWorkspace(berth, ws.id, '/run/berth-egress/ca.pem');
      const missing = await httpsVia(
        berth,
        { id: ws.id, token, ca },
        'api.granted.test',
        'GET / HTTP/1.1\r\nHost: api.granted.test\r\nConnection: close\r\n\r\n',
      );
      expect(missing.status).toBe(503);
      expect(missing.body).toContain('berth secrets set GRANTED_KEY');

      const ok = await sh(berth, ws.id, `wget -q -O - http://a.allowed.test:${httpPort}/`);
      expect(ok.exitCode, ok.stderr).toBe(0);
      await berth.daemon.close();
      // The daemon (and its gateway) is gone; the container keeps running with no other way out.
      const down = await execIn(
        ws.containerId!,
        ['sh', '-c', rawProxy(`GET http://a.allowed.test:${httpPort}/ HTTP/1.0`)],
        {
          user: '1000:1000',
        },
      );
      expect(down.stdout).toBe(''); // the forwarder resets the connection: no response at all
      const direct = await execIn(ws.containerId!, [
        'sh',
        '-c',
        `nc -w 2 ${UPSTREAM_IP} ${httpPort} </dev/null; echo rc=$?`,
      ]);
      expect(direct.stdout).toMatch(/rc=[1-9]/);

      const again = await reopenBerth(berth);
      try {
        const res = await until(
          'the gateway listening again',
          () =>
            execIn(
              ws.containerId!,
              ['sh', '-c', rawProxy(`GET http://a.allowed.test:${httpPort}/back HTTP/1.0`)],
              { user: '1000:1000' },
            ),
          (r) => r.stdout.startsWith('HTTP/1.1 200'),
          20_000,
        );
        expect(res.stdout).toContain('"url":"/back"');
      } finally {
        await again.close();
      }
    });
  });

  it('reaps gateway state whose workspace is gone, and keeps that of live ones', async () => {
    await withBerth({ config: { ...config(), reconciler: { intervalMs: 300 } } }, async (berth) => {
      const ws = await create(berth, { egress: { allow: ['a.allowed.test'] } });
      const stray = join(berth.dataDir, 'egress', 'ws_0123456789abcdef');
      mkdirSync(stray, { recursive: true });
      writeFileSync(join(stray, 'ca.pem'), 'left by an interrupted delete');
      await until(
        'the stray directory reaped',
        () => Promise.resolve(existsSync(stray)),
        (present) => !present,
        10_000,
      );
      expect(existsSync(join(berth.dataDir, 'egress', ws.id, 'egress.sock'))).toBe(true);
      // A deleted workspace leaves nothing behind.
      expect((await berth.api('DELETE', `/v1/workspaces/${ws.id}`)).status).toBe(204);
      expect(existsSync(join(berth.dataDir, 'egress', ws.id))).toBe(false);
    });
  });

  it("a user's workspace gets global secrets only through built-in grants, never a custom grant or secretEnv", async () => {
    await withBerth({ config: config() }, async (berth) => {
      expect((await berth.api('PUT', '/v1/secrets/GRANTED_KEY', { body: { value: CANARY } })).status).toBe(
        201,
      );
      const made = await berth.api<{ secret: string }>('POST', '/v1/tokens', {
        body: { name: 'user-1', scope: 'user' },
      });
      expect(made.status).toBe(201);
      const user = made.body.secret;
      // secretEnv naming a global secret: the value would enter the user's workspace.
      const envWs = await berth.api<Workspace>('POST', '/v1/workspaces', {
        body: { secretEnv: { K: 'GRANTED_KEY' } },
        token: user,
      });
      expect(envWs.body.status).toBe('failed');
      expect(envWs.body.error?.code).toBe('secret_missing');
      // A custom grant naming a global secret: the user chose the host, so it is not injected...
      const res = await berth.api<Workspace>('POST', '/v1/workspaces', {
        body: { egress: { allow: [] }, grants: [GRANT] },
        token: user,
      });
      expect(res.body.status, JSON.stringify(res.body.error)).toBe('running');
      const ws = res.body;
      const token = (await readInWorkspace(berth, ws.id, '/configs/.berth/egress-token')).trim();
      const ca = await readInWorkspace(berth, ws.id, '/run/berth-egress/ca.pem');
      const me = { id: ws.id, token, ca };
      const request = 'GET /who HTTP/1.1\r\nHost: api.granted.test\r\nConnection: close\r\n\r\n';
      const refused = await httpsVia(berth, me, 'api.granted.test', request);
      expect(refused.status).toBe(503);
      expect(refused.head).toMatch(/x-berth-egress-denied: grant-secret-missing/i);
      // ... while the user's own workspace secret of that name is.
      const own = `own-${CANARY}`;
      const put = await berth.api('PUT', `/v1/workspaces/${ws.id}/secrets/GRANTED_KEY`, {
        body: { value: own },
        token: user,
      });
      expect(put.status).toBe(201);
      seen.length = 0;
      const injected = await httpsVia(berth, me, 'api.granted.test', request);
      expect(injected.status).toBe(200);
      expect(seen.at(-1)?.headers.authorization).toBe(`Bearer ${own}`);
    });
  });

  it('secretEnv puts a secret in the processes only when asked, never in the container config; a missing one fails the start', async () => {
    await withBerth({ config: config() }, async (berth) => {
      expect(
        (await berth.api('PUT', '/v1/secrets/DB_PASSWORD', { body: { value: CANARY } })).status,
      ).toBeLessThan(300);
      const ws = await create(berth, { secretEnv: { DB_PASSWORD: 'DB_PASSWORD' } });
      expect(ws.secretEnv).toEqual({ DB_PASSWORD: 'DB_PASSWORD' });
      const out = await sh(
        berth,
        ws.id,
        'echo "$DB_PASSWORD"; tr "\\0" "\\n" </proc/1/environ | grep -c DB_PASSWORD || true',
      );
      expect(out.stdout.split('\n')[0]).toBe(CANARY);
      const inspect = await docker.getContainer(ws.containerId!).inspect();
      expect(JSON.stringify(inspect)).not.toContain(CANARY);
      expect(JSON.stringify(await events(berth, ws.id))).not.toContain(CANARY);

      const res = await berth.api<Workspace>('POST', '/v1/workspaces', {
        body: { secretEnv: { X: 'NOPE_NOT_SET' } },
      });
      expect(res.body.status).toBe('failed');
      expect(res.body.error?.code).toBe('secret_missing');
      expect(res.body.error?.message).toContain('NOPE_NOT_SET');
    });
  });

  it('rejects policies it could not enforce, with messages that say how to fix them', async () => {
    await withBerth({ config: config() }, async (berth) => {
      const bad: [Record<string, unknown>, RegExp][] = [
        [{ tier: 1, egress: { mode: 'open' } }, /tier 1/],
        [{ egress: { mode: 'open' }, grants: ['anthropic'] }, /grants need egress mode allowlist/],
        [{ egress: { allow: ['http://x.com'] } }, /not a host rule/],
        [{ egress: { allow: ['*.com'] } }, /two labels/],
        [{ grants: ['nope'] }, /./],
        [{ grants: [{ name: 'x', hosts: ['*.a.com'], header: 'x', secret: 'S' }] }, /exact DNS name/],
        [
          { egress: { allow: ['a.allowed.test'] }, readiness: { tcp: { port: 8000 } } },
          /command readiness probe/,
        ],
        [{ files: { '.berth/env': 'X=1' } }, /reserved/],
      ];
      for (const [body, message] of bad) {
        const res = await berth.api<{ code: string; message: string }>('POST', '/v1/workspaces', { body });
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.message, JSON.stringify(body)).toMatch(message);
      }
      expect((await berth.leftovers()).containers).toEqual([]);
    });
  });
});
