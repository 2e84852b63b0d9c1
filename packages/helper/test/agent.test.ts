import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildHelper, helper, HELPER, isAlive, removeDir, sleep, tempDir, waitFor } from './harness.js';

/**
 * `berth-helper agent` against a fake Berth: a Node HTTP server on a Unix socket in a temp dir.
 * Each test runs inside scenario(), which removes every process, server and directory it made.
 */

interface Req {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** What the fake Berth does with a request: a JSON reply, or misbehaving. */
type Action =
  { status: number; body?: unknown } | { hang: true } | { destroy: true } | { raw: string | Buffer };

type Responder = (req: Req, index: number) => Action;

const OK: Action = { status: 200, body: { workspaceId: 'ws_test', status: 'running' } };

class FakeBerth {
  readonly requests: Req[] = [];
  respond: Responder = () => OK;
  /** Runs for each request before it is answered (the agent's connection is then open). */
  onRequest: (req: Req, index: number) => void = () => {};
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(readonly socketPath: string) {}

  get registers(): Req[] {
    return this.requests.filter((r) => r.url === '/v1/agent/register');
  }

  get heartbeats(): Req[] {
    return this.requests.filter((r) => r.url === '/v1/agent/heartbeat');
  }

  async listen(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r: Req = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
        };
        const index = this.requests.push(r) - 1;
        this.onRequest(r, index);
        this.answer(res, this.respond(r, index));
      });
    });
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, resolve);
    });
  }

  private answer(res: ServerResponse, action: Action): void {
    if ('hang' in action) return;
    if ('destroy' in action) {
      res.socket?.destroy();
      return;
    }
    if ('raw' in action) {
      res.socket?.end(action.raw);
      return;
    }
    res.writeHead(action.status, { 'content-type': 'application/json' });
    res.end(action.body === undefined ? '' : JSON.stringify(action.body));
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.socketPath, { force: true });
  }
}

interface Agent {
  child: ChildProcess;
  pid: number;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: () => boolean;
}

class Scenario {
  readonly token = `btk_${randomBytes(16).toString('hex')}`;
  readonly socketPath: string;
  readonly tokenFile: string;
  readonly agents: Agent[] = [];
  readonly servers: FakeBerth[] = [];

  constructor(readonly dir: string) {
    this.socketPath = join(dir, 'agent.sock');
    this.tokenFile = join(dir, 'token');
  }

  writeToken(content = `${this.token}\n`): void {
    writeFileSync(this.tokenFile, content, { mode: 0o600 });
  }

  async server(respond?: Responder): Promise<FakeBerth> {
    const s = new FakeBerth(this.socketPath);
    if (respond) s.respond = respond;
    this.servers.push(s);
    await s.listen();
    return s;
  }

  agent(args: string[]): Agent {
    const child = spawn(HELPER, ['agent', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BERTH_AGENT_SOCKET: this.socketPath, BERTH_AGENT_TOKEN_FILE: this.tokenFile },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    let done = false;
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.on('close', (code, signal) => {
        done = true;
        resolve({ code, signal });
      });
    });
    const agent: Agent = {
      child,
      pid: child.pid ?? -1,
      stdout: () => Buffer.concat(out).toString('utf8'),
      stderr: () => Buffer.concat(err).toString('utf8'),
      exit,
      exited: () => done,
    };
    this.agents.push(agent);
    return agent;
  }

  /** The token must never be printed, whatever happened. */
  expectTokenSecret(): void {
    for (const a of this.agents) {
      expect(a.stdout()).not.toContain(this.token);
      expect(a.stderr()).not.toContain(this.token);
      expect(a.stderr()).not.toContain(this.token.slice(4, 20));
    }
  }

  async cleanup(): Promise<void> {
    for (const a of this.agents) {
      // A supervised command announces itself as "(pid N)": kill it too, should the test fail.
      for (const m of a.stderr().matchAll(/started .* \(pid (\d+)\)/g)) {
        try {
          process.kill(Number(m[1]), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      if (!a.exited()) a.child.kill('SIGKILL');
      await a.exit;
    }
    for (const s of this.servers) await s.close();
  }
}

async function scenario(fn: (s: Scenario) => Promise<void>): Promise<void> {
  const dir = tempDir();
  const s = new Scenario(dir);
  try {
    await fn(s);
    s.expectTokenSecret();
  } finally {
    await s.cleanup();
    removeDir(dir);
  }
}

function json(req: Req | undefined): Record<string, unknown> {
  expect(req).toBeDefined();
  return JSON.parse(req?.body ?? '') as Record<string, unknown>;
}

function gaps(reqs: Req[]): number[] {
  return reqs.slice(1).map((r, i) => r.at - (reqs[i]?.at ?? 0));
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? NaN);
}

let version: string;

beforeAll(() => {
  buildHelper();
  version = helper(['version']).stdout.toString('utf8').trim().replace('berth-helper ', '');
});

describe('agent: protocol', () => {
  it('registers, then heartbeats with the right headers and bodies', () =>
    scenario(async (s) => {
      s.writeToken();
      const berth = await s.server();
      const a = s.agent(['--interval-ms', '100']);
      await waitFor(() => berth.heartbeats.length >= 3);
      expect(berth.requests[0]?.url).toBe('/v1/agent/register');
      expect(berth.registers).toHaveLength(1);
      expect(json(berth.registers[0])).toEqual({ agent: 'berth-helper', version, pid: a.pid });
      for (const r of berth.requests) {
        expect(r.method).toBe('POST');
        expect(r.headers.authorization).toBe(`Bearer ${s.token}`);
        expect(r.headers.host).toBe('berth');
        expect(r.headers['content-type']).toBe('application/json');
        expect(r.headers.connection).toBe('close');
        expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.body));
      }
      for (const h of berth.heartbeats) expect(json(h)).toEqual({ status: 'ok', task: null, error: null });
      expect(a.stderr()).toContain('berth-agent: registered as ws_test (heartbeat every 100 ms)\n');
      // The first heartbeat is logged, later successful ones are not.
      expect(a.stderr().match(/heartbeat ok/g)).toHaveLength(1);
      expect(a.stdout()).toBe('');
      for (const line of a.stderr().trimEnd().split('\n')) expect(line).toMatch(/^berth-agent: /);
    }));

  it('JSON-escapes --task and --error (quotes, newlines, controls, unicode)', () =>
    scenario(async (s) => {
      s.writeToken();
      const berth = await s.server();
      const task = 'say "hi"\\ now\nline 2\ttab \u0001 héllo ✓ 😀 </script>';
      const error = 'boom: "x"\r\n\u001f end';
      s.agent(['--interval-ms', '50', '--task', task, '--error', error]);
      await waitFor(() => berth.heartbeats.length >= 2);
      expect(json(berth.heartbeats[0])).toEqual({ status: 'error', task, error });
      const raw = berth.heartbeats[0]?.body ?? '';
      expect([...raw].filter((c) => c.charCodeAt(0) < 0x20)).toEqual([]);
    }));

  it('sends a --task of the maximal 1 KiB, every byte of it escaped', () =>
    scenario(async (s) => {
      s.writeToken();
      const berth = await s.server();
      const task = '"\n'.repeat(341) + 'z'; // 1024 bytes
      s.agent(['--interval-ms', '50', '--task', task]);
      await waitFor(() => berth.heartbeats.length >= 1);
      expect(json(berth.heartbeats[0])).toEqual({ status: 'ok', task, error: null });
    }));

  it('honours --interval-ms over the server interval', () =>
    scenario(async (s) => {
      s.writeToken();
      const berth = await s.server(() => ({
        status: 200,
        body: { workspaceId: 'ws_a', heartbeatIntervalMs: 30 },
      }));
      const a = s.agent(['--interval-ms', '200']);
      await waitFor(() => berth.heartbeats.length >= 5);
      const g = gaps(berth.heartbeats);
      expect(Math.min(...g)).toBeGreaterThanOrEqual(150);
      expect(mean(g)).toBeLessThan(400);
      expect(a.stderr()).toContain('heartbeat every 200 ms');
    }));

  it("uses the server's heartbeatIntervalMs when no --interval-ms is given", () =>
    scenario(async (s) => {
      s.writeToken();
      const berth = await s.server(() => ({
        status: 200,
        body: { workspaceId: 'ws_b', status: 'running', heartbeatIntervalMs: 120 },
      }));
      const a = s.agent([]);
      // The default would be 10 s: five heartbeats in a few seconds prove the server's value is used.
      await waitFor(() => berth.heartbeats.length >= 5, 4000);
      const g = gaps(berth.heartbeats);
      expect(Math.min(...g)).toBeGreaterThanOrEqual(90);
      expect(mean(g)).toBeLessThan(300);
      expect(a.stderr()).toContain('registered as ws_b (heartbeat every 120 ms)');
    }));

  it('follows a changed interval from a heartbeat response', () =>
    scenario(async (s) => {
      s.writeToken();
      const berth = await s.server((req) =>
        req.url === '/v1/agent/register'
          ? { status: 200, body: { workspaceId: 'ws_c', heartbeatIntervalMs: 5000 } }
          : { status: 200, body: { heartbeatIntervalMs: 60 } },
      );
      const a = s.agent([]);
      await waitFor(() => berth.heartbeats.length >= 4, 3000);
      expect(a.stderr()).toContain('heartbeat interval is now 60 ms');
    }));
});

describe('agent: retries', () => {
  it('retries until the socket exists (server started 1 s later)', () =>
    scenario(async (s) => {
      s.writeToken();
      const a = s.agent(['--interval-ms', '100']);
      await sleep(1000);
      expect(a.exited()).toBe(false);
      const started = Date.now();
      const berth = await s.server();
      await waitFor(() => berth.heartbeats.length >= 2);
      // Backoff from 200 ms doubling: the next attempt comes within the interval cap (100 ms here).
      expect((berth.registers[0]?.at ?? Infinity) - started).toBeLessThan(1000);
      expect(a.stderr()).toMatch(
        /berth-agent: register failed: connect: No such file or directory; retrying in \d+ ms\n/,
      );
      expect(a.stderr()).toContain('registered as ws_test');
    }));

  it('backs off from 200 ms doubling, up to the interval', () =>
    scenario(async (s) => {
      s.writeToken();
      const a = s.agent(['--interval-ms', '1000']);
      await sleep(2000);
      const delays = [...a.stderr().matchAll(/retrying in (\d+) ms/g)].map((m) => Number(m[1]));
      expect(delays.slice(0, 4)).toEqual([200, 400, 800, 1000]);
    }));

  it('waits for a token file that appears late, and never prints the token', () =>
    scenario(async (s) => {
      const berth = await s.server();
      const a = s.agent(['--interval-ms', '100']);
      await sleep(700);
      expect(berth.requests).toHaveLength(0);
      s.writeToken(`${s.token}\r\n \n`);
      await waitFor(() => berth.heartbeats.length >= 1);
      expect(berth.registers[0]?.headers.authorization).toBe(`Bearer ${s.token}`);
      expect(a.stderr()).toContain(`register failed: token file ${s.tokenFile}: No such file or directory`);
    }));

  it('refuses empty, oversized and multi-line tokens without printing them', () =>
    scenario(async (s) => {
      const berth = await s.server();
      s.writeToken('\n\n');
      const a = s.agent(['--interval-ms', '100']);
      await waitFor(() => a.stderr().includes('is empty'));
      s.writeToken(`${s.token}${'y'.repeat(600)}`);
      await waitFor(() => a.stderr().includes('is larger than 512 bytes'));
      s.writeToken(`${s.token}\nHost: evil\n`);
      await waitFor(() => a.stderr().includes('holds control characters'));
      expect(berth.requests).toHaveLength(0);
      s.writeToken(`${s.token}`);
      await waitFor(() => berth.registers.length === 1);
      expect(berth.registers[0]?.headers.authorization).toBe(`Bearer ${s.token}`);
    }));

  it('re-reads the token file after a 401 on register', () =>
    scenario(async (s) => {
      s.writeToken('btk_wrong_token_value');
      const berth = await s.server((req) =>
        req.headers.authorization === `Bearer ${s.token}`
          ? OK
          : { status: 401, body: { error: 'unauthorized' } },
      );
      const a = s.agent(['--interval-ms', '100']);
      await waitFor(() => berth.registers.length >= 2);
      s.writeToken();
      await waitFor(() => berth.heartbeats.length >= 1);
      expect(a.stderr()).toContain('register failed: HTTP 401');
      expect(a.stderr()).not.toContain('btk_wrong_token_value');
    }));

  it('registers again after a 401 or 404 on a heartbeat', () =>
    scenario(async (s) => {
      s.writeToken();
      const berth = await s.server((req) => {
        const n = berth.heartbeats.length;
        if (req.url === '/v1/agent/heartbeat' && n === 2) return { status: 401, body: {} };
        if (req.url === '/v1/agent/heartbeat' && n === 4) return { status: 404, body: {} };
        return OK;
      });
      const a = s.agent(['--interval-ms', '50']);
      await waitFor(() => berth.heartbeats.length >= 6);
      const urls = berth.requests.map((r) => r.url.replace('/v1/agent/', ''));
      expect(urls.slice(0, 8)).toEqual([
        'register',
        'heartbeat',
        'heartbeat', // 401
        'register',
        'heartbeat',
        'heartbeat', // 404
        'register',
        'heartbeat',
      ]);
      expect(a.stderr()).toContain('heartbeat rejected (HTTP 401); registering again');
      expect(a.stderr()).toContain('heartbeat rejected (HTTP 404); registering again');
    }));

  it('keeps heartbeating through 500 and 409, and logs the recovery', () =>
    scenario(async (s) => {
      s.writeToken();
      const berth = await s.server((req) => {
        const n = berth.heartbeats.length; // this request is already counted
        if (req.url === '/v1/agent/heartbeat' && n >= 2 && n <= 3) return { status: 500, body: {} };
        if (req.url === '/v1/agent/heartbeat' && n === 4) return { status: 409, body: {} };
        return OK;
      });
      const a = s.agent(['--interval-ms', '50']);
      await waitFor(() => berth.heartbeats.length >= 7);
      expect(berth.registers).toHaveLength(1);
      const err = a.stderr();
      // The same failure twice in a row is logged once.
      expect(err.match(/heartbeat failed: HTTP 500/g)).toHaveLength(1);
      expect(err).toContain('heartbeat failed: HTTP 409');
      expect(err).toContain('heartbeat ok again after 3 failed');
    }));

  it('retries register on 5xx and 409 with backoff', () =>
    scenario(async (s) => {
      s.writeToken();
      const berth = await s.server((req, i) =>
        req.url === '/v1/agent/register' && i < 2 ? { status: i === 0 ? 503 : 409, body: {} } : OK,
      );
      const a = s.agent(['--interval-ms', '100']);
      await waitFor(() => berth.heartbeats.length >= 1);
      expect(berth.registers).toHaveLength(3);
      expect(a.stderr()).toContain('register failed: HTTP 503; retrying in 100 ms');
      expect(a.stderr()).toContain('register failed: HTTP 409; retrying in 100 ms');
    }));

  it('survives a server that closes early, sends garbage or a huge reply', () =>
    scenario(async (s) => {
      s.writeToken();
      const big = { heartbeatIntervalMs: 40, workspaceId: 'ws_big', pad: 'p'.repeat(100_000) };
      const berth = await s.server((req, i) => {
        if (i === 0) return { destroy: true };
        if (i === 1) return { raw: 'garbage\r\n\r\n' };
        if (i === 2) return { raw: 'HTTP/1.1 200 OK\r\nContent-Le' }; // cut inside the headers
        if (i === 3) return { status: 404, body: {} }; // the first heartbeat: register again
        if (req.url === '/v1/agent/register') return { status: 200, body: big };
        return OK;
      });
      const a = s.agent([]);
      await waitFor(() => berth.heartbeats.length >= 4, 5000);
      const err = a.stderr();
      expect(err).toContain('register failed: the server closed the connection without a response');
      expect(err).toContain('register failed: malformed response');
      // A status line is enough to succeed (with the default interval, nothing else was read).
      expect(err).toContain('registered (heartbeat every 10000 ms)');
      // Only the first 8 KiB of a big reply are read: heartbeatIntervalMs at its start is used.
      expect(err).toContain('registered as ws_big (heartbeat every 40 ms)');
    }));

  it('times out a request after 5 s and goes on', () =>
    scenario(async (s) => {
      s.writeToken();
      const berth = await s.server((req) =>
        req.url === '/v1/agent/heartbeat' && berth.heartbeats.length === 1 ? { hang: true } : OK,
      );
      const a = s.agent(['--interval-ms', '100']);
      await waitFor(() => berth.heartbeats.length >= 1);
      const hungAt = Date.now();
      await waitFor(() => berth.heartbeats.length >= 2, 8000);
      expect(Date.now() - hungAt).toBeGreaterThanOrEqual(4500);
      expect(a.stderr()).toContain('heartbeat failed: no response within 5000 ms');
    }));
});

describe('agent: test modes', () => {
  it('--heartbeats 2 sends exactly two heartbeats, then stays alive and silent', () =>
    scenario(async (s) => {
      s.writeToken();
      const berth = await s.server();
      const a = s.agent(['--interval-ms', '50', '--heartbeats', '2']);
      await waitFor(() => berth.heartbeats.length >= 2);
      await sleep(800);
      expect(berth.heartbeats).toHaveLength(2);
      expect(berth.registers).toHaveLength(1);
      expect(isAlive(a.pid)).toBe(true);
      expect(a.stderr()).toContain('sent 2 heartbeats; no longer heartbeating');
      a.child.kill('SIGTERM');
      expect(await a.exit).toEqual({ code: 0, signal: null });
    }));

  it('--exit-after-ms with --exit-code exits with that code', () =>
    scenario(async (s) => {
      s.writeToken();
      await s.server();
      const started = Date.now();
      const a = s.agent(['--interval-ms', '50', '--exit-after-ms', '400', '--exit-code', '3']);
      expect(await a.exit).toEqual({ code: 3, signal: null });
      expect(Date.now() - started).toBeGreaterThanOrEqual(380);
      expect(Date.now() - started).toBeLessThan(3000);
      const b = s.agent(['--no-register', '--exit-after-ms', '100']);
      expect(await b.exit).toEqual({ code: 1, signal: null });
    }));

  it('--no-register sends nothing and keeps running', () =>
    scenario(async (s) => {
      s.writeToken();
      const berth = await s.server();
      const a = s.agent(['--no-register', '--interval-ms', '20']);
      await sleep(700);
      expect(berth.requests).toHaveLength(0);
      expect(isAlive(a.pid)).toBe(true);
      a.child.kill('SIGINT');
      expect(await a.exit).toEqual({ code: 0, signal: null });
    }));

  it('refuses bad options with a usage error', () => {
    for (const args of [
      ['--bogus'],
      ['--interval-ms'],
      ['--interval-ms', '0'],
      ['--interval-ms', 'x'],
      ['--exit-code', '256'],
      ['--task', 'x'.repeat(1025)],
      ['--error', 'y'.repeat(1025)],
      ['--socket', `/${'s'.repeat(120)}`],
      ['--'],
    ]) {
      const r = helper(['agent', ...args], { timeoutMs: 5000 });
      expect(r.code).toBe(2);
      expect((JSON.parse(r.stderr) as { error: string }).error).toBe('usage');
    }
  });
});

describe('agent: signals and a supervised command', () => {
  it('exits 0 promptly on SIGTERM, even in the middle of a request', () =>
    scenario(async (s) => {
      s.writeToken();
      const berth = await s.server((req) => (req.url === '/v1/agent/heartbeat' ? { hang: true } : OK));
      const a = s.agent(['--interval-ms', '50']);
      await waitFor(() => berth.heartbeats.length >= 1);
      const t = Date.now();
      a.child.kill('SIGTERM');
      expect(await a.exit).toEqual({ code: 0, signal: null });
      expect(Date.now() - t).toBeLessThan(500);
      expect(a.stderr()).toContain('received SIGTERM; exiting');
    }));

  it('exits 0 promptly on SIGTERM while waiting to register', () =>
    scenario(async (s) => {
      const a = s.agent([]); // no token, no server: backing off
      await waitFor(() => a.stderr().includes('retrying'));
      const t = Date.now();
      a.child.kill('SIGTERM');
      expect(await a.exit).toEqual({ code: 0, signal: null });
      expect(Date.now() - t).toBeLessThan(500);
    }));

  it('runs a command, heartbeats while it runs and exits with its status', () =>
    scenario(async (s) => {
      s.writeToken();
      const berth = await s.server();
      const a = s.agent(['--interval-ms', '50', '--', 'sh', '-c', 'sleep 1; echo done; exit 7']);
      expect(await a.exit).toEqual({ code: 7, signal: null });
      expect(berth.heartbeats.length).toBeGreaterThanOrEqual(5);
      expect(json(berth.registers[0])['pid']).toBe(a.pid);
      expect(a.stdout()).toBe('done\n');
      expect(a.stderr()).toContain('the command exited with code 7');
      const b = s.agent(['--', 'sh', '-c', 'exit 7']);
      expect(await b.exit).toEqual({ code: 7, signal: null });
    }));

  it('exits 128+signal when the command is killed, 127 when it cannot start', () =>
    scenario(async (s) => {
      s.writeToken();
      await s.server();
      const a = s.agent(['--interval-ms', '50', '--', 'sh', '-c', 'kill -9 $$']);
      expect(await a.exit).toEqual({ code: 137, signal: null });
      const b = s.agent(['--', join(s.dir, 'no-such-program')]);
      expect(await b.exit).toEqual({ code: 127, signal: null });
      expect(b.stderr()).toContain('cannot run');
    }));

  it('forwards SIGTERM and SIGINT to the command', () =>
    scenario(async (s) => {
      s.writeToken();
      const berth = await s.server();
      const script = 'trap "exit 5" TERM; trap "exit 6" INT; while :; do sleep 0.05; done';
      const a = s.agent(['--interval-ms', '50', '--', 'sh', '-c', script]);
      await waitFor(() => berth.heartbeats.length >= 2);
      a.child.kill('SIGTERM');
      expect(await a.exit).toEqual({ code: 5, signal: null });
      expect(a.stderr()).toMatch(/received SIGTERM; forwarding it to the command \(pid \d+\)/);
      const b = s.agent(['--interval-ms', '50', '--', 'sh', '-c', script]);
      await waitFor(() => b.stderr().includes('started'));
      await sleep(100);
      b.child.kill('SIGINT');
      expect(await b.exit).toEqual({ code: 6, signal: null });
    }));

  it('kills the command when --exit-after-ms fires', () =>
    scenario(async (s) => {
      s.writeToken();
      await s.server();
      const a = s.agent(['--exit-after-ms', '300', '--exit-code', '9', '--', 'sleep', '30']);
      await waitFor(() => a.stderr().includes('started'));
      const pid = Number(/\(pid (\d+)\)/.exec(a.stderr())?.[1]);
      expect(await a.exit).toEqual({ code: 9, signal: null });
      expect(isAlive(pid)).toBe(false);
    }));
});

describe('agent: resources', () => {
  it('keeps its descriptors and memory constant over 30 heartbeats at 20 ms', () =>
    scenario(async (s) => {
      s.writeToken();
      const berth = await s.server();
      const fds: number[] = [];
      const rss: number[] = [];
      let pid = -1;
      // Measured while the agent's request is open, so every sample sees exactly one connection.
      berth.onRequest = (req) => {
        if (req.url !== '/v1/agent/heartbeat' || berth.heartbeats.length < 3) return;
        fds.push(fdCount(pid));
        rss.push(rssKb(pid));
      };
      const a = s.agent(['--interval-ms', '20']);
      pid = a.pid;
      await waitFor(() => berth.heartbeats.length >= 33, 10_000);
      expect(fds.length).toBeGreaterThanOrEqual(30);
      expect(new Set(fds).size).toBe(1);
      expect(Math.max(...rss) - Math.min(...rss)).toBeLessThanOrEqual(16);
      const t = Date.now();
      a.child.kill('SIGTERM');
      expect(await a.exit).toEqual({ code: 0, signal: null });
      expect(Date.now() - t).toBeLessThan(500);
    }));
});
