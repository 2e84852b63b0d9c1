import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  buildHelper,
  expectError,
  expectOk,
  giveToUser,
  helper,
  HELPER,
  IS_ROOT,
  isAlive,
  removeDir,
  sleep,
  tempDir,
  USER_UID,
  waitFor,
} from './harness.js';

/**
 * `berth-helper boot`: the env file, and the egress forwarder (a loopback TCP port relayed to a
 * Unix socket). The gateway is a node:net server on a Unix socket in a temp dir; boot runs as uid
 * 1000 when the suite runs as root, as in a workspace. Every process a test starts (boot, its
 * argv, the setsid'd forwarder, found through --egress-pidfile) is killed in afterEach.
 */

let dir: string;
const children: ChildProcess[] = [];
const strays: number[] = [];
const servers: Server[] = [];
const clients: Socket[] = [];

beforeAll(buildHelper);
beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await new Promise((resolve) => c.once('exit', resolve));
    }
  }
  for (const s of clients.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
  removeDir(dir);
});

/** The helper's argv, through setpriv (uid 1000) when the suite runs as root. */
function asUser(args: string[]): [string, string[]] {
  if (!IS_ROOT) return [HELPER, args];
  return ['setpriv', [`--reuid=${USER_UID}`, `--regid=${USER_UID}`, '--clear-groups', HELPER, ...args]];
}

interface Boot {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `berth-helper boot ...` (not awaited: the forwarder keeps stderr open, so watch `exit`). */
function boot(args: string[], extraFd = false): Boot {
  const [cmd, argv] = asUser(['boot', ...args]);
  const child = spawn(cmd, argv, {
    stdio: extraFd ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, out: () => out, err: () => err, exit };
}

/** A records file: `KEY=VALUE\0` each. */
function envFile(name: string, records: (string | Buffer)[]): string {
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat(records.map((r) => Buffer.concat([Buffer.from(r), Buffer.from([0])]))));
  chmodSync(path, 0o644);
  return path;
}

/** Fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, session, ...]. */
function stat(pid: number): string[] {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2).split(' ');
}

describe('boot: the env file', () => {
  it('execs argv in place with the env file applied (newlines and = in values, overwriting)', async () => {
    const file = envFile('env', [
      'MULTI=line one\nline=two\n',
      'PLAIN=x',
      'EMPTY=',
      'OVER=from-file',
      '_u9=ok',
    ]);
    const b = boot([
      '--env-file',
      file,
      '--',
      'sh',
      '-c',
      'echo "pid $$"; printf "%s|%s|%s|%s|%s" "$MULTI" "$PLAIN" "${EMPTY-unset}" "$OVER" "$_u9"',
    ]);
    // The variable set in the caller's environment is overwritten by the file.
    expect(await b.exit).toEqual({ code: 0, signal: null });
    const [first, ...rest] = b.out().split('\n');
    expect(rest.join('\n')).toBe('line one\nline=two\n|x||from-file|ok');
    // exec, not fork: the shell has boot's pid (setpriv execs too).
    expect(first).toBe(`pid ${b.child.pid}`);
    expect(b.err()).toBe('');
  });

  it('overwrites variables of the environment and skips a missing file', () => {
    const file = envFile('env', ['HOME=/from-file']);
    const r = helper(['boot', '--env-file', file, '--', 'sh', '-c', 'printf %s "$HOME"']);
    expect(expectOk(r).toString()).toBe('/from-file');
    const missing = helper([
      'boot',
      '--env-file',
      join(dir, 'nope'),
      '--',
      'sh',
      '-c',
      'printf %s "${NOPE-unset}"',
    ]);
    expect(expectOk(missing).toString()).toBe('unset');
    const none = helper(['boot', '--', 'echo', 'plain']);
    expect(expectOk(none).toString()).toBe('plain\n');
  });

  it('refuses a malformed file with exit 2 and a message quoting neither names nor values', () => {
    const secret = 'SUPER-SECRET-VALUE';
    const cases: [string, Buffer][] = [
      ['no =', Buffer.from(`OK=1\0${secret}\0`)],
      ['digit first', Buffer.from(`1BAD=${secret}\0`)],
      ['dash', Buffer.from(`BAD-NAME=${secret}\0`)],
      ['empty name', Buffer.from(`=${secret}\0`)],
      ['empty record', Buffer.from(`OK=1\0\0`)],
      ['unterminated', Buffer.from(`OK=1\0LAST=${secret}`)],
      ['space in name', Buffer.from(`A B=${secret}\0`)],
    ];
    for (const [label, content] of cases) {
      const path = join(dir, 'bad');
      writeFileSync(path, content);
      const r = helper(['boot', '--env-file', path, '--', 'sh', '-c', 'echo ran']);
      const message = expectError(r, 'usage');
      expect(message, label).toMatch(/env file .* is malformed: record \d+/);
      expect(r.stderr, label).not.toContain(secret);
      expect(r.stderr, label).not.toContain('BAD');
    }
  });

  it('refuses a file over 1 MiB and one that is not a regular file', () => {
    const big = join(dir, 'big');
    writeFileSync(big, Buffer.concat([Buffer.from('A='), Buffer.alloc(1024 * 1024, 'x'), Buffer.from([0])]));
    expectError(helper(['boot', '--env-file', big, '--', 'true']), 'too_large');
    // Exactly 1 MiB is fine (in 16 variables: exec takes no single string over 128 KiB).
    const max = join(dir, 'max');
    const records = Array.from({ length: 16 }, (_, i) =>
      Buffer.concat([
        Buffer.from(`V${String(i).padStart(2, '0')}=`),
        Buffer.alloc(65536 - 5, 'y'),
        Buffer.from([0]),
      ]),
    );
    writeFileSync(max, Buffer.concat(records));
    expect(readFileSync(max).length).toBe(1024 * 1024);
    const sizes = helper(['boot', '--env-file', max, '--', 'sh', '-c', 'printf %s "${#V00}/${#V15}"']);
    expect(expectOk(sizes).toString()).toBe(`${65536 - 5}/${65536 - 5}`);
    expectError(helper(['boot', '--env-file', dir, '--', 'true']), 'unsupported_type');
  });

  it('reports usage errors with exit 2 and exec failures with 127/126', () => {
    expectError(helper(['boot']), 'usage');
    expectError(helper(['boot', 'true']), 'usage');
    expectError(helper(['boot', '--']), 'usage');
    expectError(helper(['boot', '--bogus', '--', 'true']), 'usage');
    expectError(helper(['boot', '--egress-listen', '127.0.0.1:3128', '--', 'true']), 'usage');
    expectError(
      helper(['boot', '--egress-socket', '/x.sock', '--egress-token-file', '/t', '--', 'true']),
      'usage',
    );
    const egress = ['--egress-socket', '/x.sock', '--egress-token-file', '/t'];
    for (const bad of ['127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', 'localhost:80', ':80', '1.2.3.4:x'])
      expectError(helper(['boot', '--egress-listen', bad, ...egress, '--', 'true']), 'usage');
    expectError(
      helper([
        'boot',
        '--egress-listen',
        '127.0.0.1:1',
        '--egress-socket',
        `/${'s'.repeat(120)}`,
        '--egress-token-file',
        '/t',
        '--',
        'true',
      ]),
      'usage',
    );

    const missing = helper(['boot', '--', join(dir, 'no-such-command')]);
    expect(missing.code).toBe(127);
    expect(JSON.parse(missing.stderr.trim())).toMatchObject({ error: 'not_found' });
    const notExec = join(dir, 'not-exec');
    writeFileSync(notExec, '#!/bin/sh\n', { mode: 0o644 });
    const denied = helper(['boot', '--', notExec]);
    expect(denied.code).toBe(126);
    expect(JSON.parse(denied.stderr.trim())).toMatchObject({ error: 'permission_denied' });
  });
});

describe('run --env-file', () => {
  it('gives the command the env file, skips a missing one, refuses a malformed one before starting', () => {
    const file = envFile('env', ['TOKEN=a\nb', 'OTHER=c=d']);
    const r = helper([
      'run',
      '--background',
      '--env-file',
      file,
      '--',
      'sh',
      '-c',
      'printf "%s|%s" "$TOKEN" "$OTHER"',
    ]);
    expect(expectOk(r).toString()).toBe('a\nb|c=d');
    const missing = helper([
      'run',
      '--background',
      '--env-file',
      join(dir, 'none'),
      '--',
      'sh',
      '-c',
      'printf ok',
    ]);
    expect(expectOk(missing).toString()).toBe('ok');

    const marker = join(dir, 'started');
    const bad = join(dir, 'bad');
    writeFileSync(bad, 'X=secret-value');
    const refused = helper(['run', '--background', '--env-file', bad, '--', 'touch', marker]);
    expectError(refused, 'usage');
    expect(refused.stderr).not.toContain('secret-value');
    expect(readdirSync(dir)).not.toContain('started');
    expectError(helper(['run', '--env-file']), 'usage');
  });
});

/* ---- the egress forwarder ---- */

/** A free loopback port (bound and released: another process could take it, unlikely here). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** One connection at the gateway: the first line, then the relayed bytes. */
class GwConn {
  preamble: string | undefined;
  body: Buffer[] = [];
  ended = false;
  readonly ready: Promise<string>;
  readonly end: Promise<void>;
  private head = Buffer.alloc(0);
  private onBody: ((b: Buffer) => void) | undefined;

  constructor(readonly socket: Socket) {
    let resolveReady!: (line: string) => void;
    this.ready = new Promise((resolve) => (resolveReady = resolve));
    this.end = new Promise((resolve) => socket.once('end', resolve));
    socket.on('end', () => (this.ended = true));
    socket.on('error', () => {});
    socket.on('data', (b: Buffer) => {
      if (this.preamble !== undefined) {
        this.deliver(b);
        return;
      }
      this.head = Buffer.concat([this.head, b]);
      const nl = this.head.indexOf(10);
      if (nl < 0) return;
      this.preamble = this.head.subarray(0, nl).toString('latin1');
      const rest = this.head.subarray(nl + 1);
      resolveReady(this.preamble);
      if (rest.length) this.deliver(rest);
    });
  }

  private deliver(b: Buffer): void {
    if (this.onBody) this.onBody(b);
    else this.body.push(b);
  }

  /** Streams the body (what came before the call first). */
  stream(fn: (b: Buffer) => void): void {
    for (const b of this.body.splice(0)) fn(b);
    this.onBody = fn;
  }

  text(): string {
    return Buffer.concat(this.body).toString();
  }
}

class Gateway {
  readonly conns: GwConn[] = [];
  onConn: (c: GwConn) => void = () => {};
  private server: Server | undefined;

  constructor(readonly path: string) {}

  async listen(): Promise<void> {
    // Half-open allowed: the gateway answers after the client's end, as an HTTP server may.
    const server = createServer({ allowHalfOpen: true }, (s) => {
      const c = new GwConn(s);
      this.conns.push(c);
      this.onConn(c);
    });
    server.maxConnections = 5000;
    servers.push(server);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path: this.path, backlog: 2048 }, resolve);
    });
    chmodSync(this.path, 0o777); // uid 1000 connects
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const c of this.conns) c.socket.destroy();
    await new Promise((resolve) => server.close(resolve));
    rmSync(this.path, { force: true });
  }
}

interface Egress {
  port: number;
  token: string;
  tokenFile: string;
  gateway: Gateway;
  boot: Boot;
  forwarder: number;
}

/** Starts a gateway and `boot` with the egress options; argv defaults to a command that exits. */
async function startEgress(
  opts: {
    argv?: (port: number) => string[];
    gateway?: boolean;
    extraFd?: boolean;
    onConn?: (c: GwConn) => void;
  } = {},
): Promise<Egress> {
  const port = await freePort();
  const token = `btk_${randomBytes(16).toString('hex')}`;
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o644 });
  const gateway = new Gateway(join(dir, 'egress.sock'));
  if (opts.onConn) gateway.onConn = opts.onConn;
  if (opts.gateway !== false) await gateway.listen();
  const runDir = join(dir, 'run');
  mkdirSync(runDir);
  giveToUser(runDir);
  const pidfile = join(runDir, 'forwarder.pid');
  const argv = opts.argv?.(port) ?? ['sh', '-c', 'echo started'];
  const b = boot(
    [
      '--egress-listen',
      `127.0.0.1:${port}`,
      '--egress-socket',
      gateway.path,
      '--egress-token-file',
      tokenFile,
      '--egress-pidfile',
      pidfile,
      '--',
      ...argv,
    ],
    opts.extraFd,
  );
  await waitFor(() => {
    try {
      return /^\d+\n$/.test(readFileSync(pidfile, 'utf8'));
    } catch {
      return b.child.exitCode !== null; // failed before writing it: the test's asserts say why
    }
  });
  const forwarder = Number(readFileSync(pidfile, 'utf8'));
  strays.push(forwarder);
  return { port, token, tokenFile, gateway, boot: b, forwarder };
}

/** A TCP client of the forwarder, collecting what it receives. */
interface Client {
  socket: Socket;
  data: () => Buffer;
  ended: Promise<void>;
  closed: Promise<void>;
  isClosed: () => boolean;
}

async function client(port: number): Promise<Client> {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  clients.push(socket);
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on('data', (b: Buffer) => chunks.push(b));
  socket.on('error', () => {});
  const ended = new Promise<void>((resolve) => socket.once('end', resolve));
  const closedP = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closed = true;
      resolve();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return {
    socket,
    data: () => Buffer.concat(chunks),
    ended,
    closed: closedP,
    isClosed: () => closed,
  };
}

/** The forwarder closed the connection: an end (FIN) or a reset, whichever comes. */
const dropped = (c: Client): Promise<void> => Promise.race([c.ended, c.closed]);

/** The gateway answers like a tiny proxy: after the client's end, `reply:<body>`, then end. */
function replyOnEnd(c: GwConn): void {
  void c.end.then(() => c.socket.end(`reply:${c.text()}`));
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    p,
    sleep(ms).then(() => {
      throw new Error(`timed out: ${what}`);
    }),
  ]);
}

function vmHwmKiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]);
}

describe('boot: the egress forwarder', () => {
  it('listens before argv runs; argv reaches the gateway with one preamble line carrying the token', async () => {
    // argv is a node script that connects at once, with no retry: the port must already accept.
    const script = `
      const s = require('net').connect(Number(process.argv[1]), '127.0.0.1');
      let d = '';
      s.on('data', (b) => (d += b));
      s.on('end', () => process.stdout.write('got ' + d));
      s.on('error', (e) => { process.stdout.write('error ' + e.code); process.exitCode = 3; });
      s.end('ping');`;
    const e = await startEgress({
      argv: (port) => [process.execPath, '-e', script, String(port)],
      onConn: replyOnEnd,
    });
    expect(await e.boot.exit).toEqual({ code: 0, signal: null });
    expect(e.boot.out()).toBe('got reply:ping');
    expect(e.gateway.conns).toHaveLength(1);
    expect(e.gateway.conns[0]?.preamble).toBe(`BERTH-EGRESS ${e.token}`);
    expect(e.gateway.conns[0]?.text()).toBe('ping');
    // The forwarder outlives argv; it never prints the token.
    expect(isAlive(e.forwarder)).toBe(true);
    await waitFor(() => e.boot.err().endsWith('\n'));
    expect(e.boot.err()).toMatch(
      /^berth-egress: forwarding 127\.0\.0\.1:\d+ to .*egress\.sock \(pid \d+\)\n$/,
    );
    expect(e.boot.err()).not.toContain(e.token);
  });

  it('runs the forwarder as a daemon: own session, not argv’s child, titled, no inherited descriptors', async () => {
    const e = await startEgress({ argv: () => ['sleep', '1000'], extraFd: true });
    const bootPid = e.boot.child.pid ?? -1;
    const [, ppid, pgrp, session] = stat(e.forwarder);
    expect(Number(ppid)).not.toBe(bootPid); // double fork: re-parented, never argv's child
    expect(Number(session)).not.toBe(Number(stat(bootPid)[3]));
    expect(Number(pgrp)).toBe(Number(session)); // the intermediate's session and group
    const title = readFileSync(`/proc/${e.forwarder}/cmdline`, 'utf8')
      .split('\0')
      .filter((s) => s !== '');
    expect(title).toEqual(['berth-helper', 'egress-forward']);
    const fds = readdirSync(`/proc/${e.forwarder}/fd`)
      .map(Number)
      .sort((a, b) => a - b);
    expect(fds).toEqual([0, 1, 2, 3, 4]);
    expect(readlinkSync(`/proc/${e.forwarder}/fd/0`)).toBe('/dev/null');
    expect(readlinkSync(`/proc/${e.forwarder}/fd/1`)).toBe('/dev/null');
    expect(readlinkSync(`/proc/${e.forwarder}/fd/3`)).toMatch(/^socket:/); // the listener, not our pipe
    // argv (boot's own pid, exec'd) does not hold the listener: only the forwarder accepts.
    const argvFds = readdirSync(`/proc/${bootPid}/fd`).map((fd) => readlinkSync(`/proc/${bootPid}/fd/${fd}`));
    expect(argvFds).not.toContain(readlinkSync(`/proc/${e.forwarder}/fd/3`));
    if (IS_ROOT)
      expect(readFileSync(`/proc/${e.forwarder}/status`, 'utf8')).toMatch(
        new RegExp(`\\nUid:\\s+${USER_UID}\\s`),
      );
  });

  it('propagates half-close both ways', async () => {
    const e = await startEgress();
    // 1. The client ends first: the gateway sees the end, can still reply, and the client gets the
    //    reply and then the end.
    e.gateway.onConn = replyOnEnd;
    const a = await client(e.port);
    a.socket.end('request body');
    await withTimeout(a.ended, 5000, 'client end');
    expect(a.data().toString()).toBe('reply:request body');
    await withTimeout(a.closed, 5000, 'client close');

    // 2. The gateway ends first: the client gets the data and the end, and can still send.
    e.gateway.onConn = (c) => c.socket.end('early answer');
    const b = await client(e.port);
    await withTimeout(b.ended, 5000, 'client end (gateway first)');
    expect(b.data().toString()).toBe('early answer');
    expect(b.isClosed()).toBe(false);
    b.socket.write('still sending');
    b.socket.end(' and done');
    const gw = e.gateway.conns[1];
    if (!gw) throw new Error('no gateway connection');
    await withTimeout(gw.end, 5000, 'gateway end');
    expect(gw.preamble).toBe(`BERTH-EGRESS ${e.token}`);
    expect(gw.text()).toBe('still sending and done');
    await withTimeout(b.closed, 5000, 'client close (gateway first)');
  });

  it('moves 10 MB each way intact with slow readers, within bounded memory', async () => {
    const e = await startEgress();
    const up = randomBytes(10 * 1024 * 1024);
    const down = randomBytes(10 * 1024 * 1024);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

    /** Reads slowly: a 20 ms pause after every 256 KiB. */
    function slowHash(socket: Socket, push: (fn: (b: Buffer) => void) => void, ended: Promise<void>) {
      const hash = createHash('sha256');
      let total = 0;
      let sincePause = 0;
      push((b) => {
        hash.update(b);
        total += b.length;
        sincePause += b.length;
        if (sincePause >= 256 * 1024) {
          sincePause = 0;
          socket.pause();
          setTimeout(() => socket.resume(), 20);
        }
      });
      return ended.then(() => ({ total, digest: hash.digest('hex') }));
    }

    let gwResult: Promise<{ total: number; digest: string }> | undefined;
    e.gateway.onConn = (c) => {
      c.socket.write(down, () => c.socket.end());
      gwResult = slowHash(c.socket, (fn) => c.stream(fn), c.end);
    };
    const cl = await client(e.port);
    let peak = 0;
    const sampler = setInterval(() => {
      if (isAlive(e.forwarder)) peak = Math.max(peak, vmHwmKiB(e.forwarder));
    }, 50);
    try {
      const clResult = slowHash(cl.socket, (fn) => cl.socket.on('data', fn), cl.ended);
      cl.socket.end(up);
      await waitFor(() => gwResult !== undefined);
      const [atClient, atGateway] = await withTimeout(Promise.all([clResult, gwResult]), 50_000, 'transfer');
      expect(atGateway).toEqual({ total: up.length, digest: sha(up) });
      expect(atClient).toEqual({ total: down.length, digest: sha(down) });
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, vmHwmKiB(e.forwarder));
    // Two 64 KiB buffers in flight; the whole static process stays far below 8 MiB.
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(8 * 1024);
  });

  it('serves 50 concurrent connections, each to its own gateway connection', async () => {
    const e = await startEgress();
    // Echo: everything after the preamble comes back, then the end.
    e.gateway.onConn = (c) => {
      c.stream((b) => c.socket.write(b));
      void c.end.then(() => c.socket.end());
    };
    const payloads = Array.from({ length: 50 }, (_, i) =>
      Buffer.concat([Buffer.from(`#${i}:`), randomBytes(100_000)]),
    );
    const pairs = await Promise.all(payloads.map(async (payload) => ({ payload, c: await client(e.port) })));
    for (const { payload, c } of pairs) c.socket.end(payload);
    await withTimeout(Promise.all(pairs.map(({ c }) => c.ended)), 30_000, 'echoes');
    for (const { payload, c } of pairs) expect(c.data().equals(payload)).toBe(true);
    expect(e.gateway.conns).toHaveLength(50);
    for (const c of e.gateway.conns) expect(c.preamble).toBe(`BERTH-EGRESS ${e.token}`);
    expect(isAlive(e.forwarder)).toBe(true);
  });

  it('reads the token again for every connection, and closes clients while it is unusable', async () => {
    const e = await startEgress();
    e.gateway.onConn = replyOnEnd;
    const exchange = async (): Promise<Client> => {
      const c = await client(e.port);
      c.socket.end('x');
      await withTimeout(dropped(c), 5000, 'exchange');
      await withTimeout(c.closed, 5000, 'exchange closed');
      return c;
    };
    await exchange();
    expect(e.gateway.conns[0]?.preamble).toBe(`BERTH-EGRESS ${e.token}`);

    writeFileSync(e.tokenFile, 'btk_rotated\r\nsecond line ignored\n');
    expect((await exchange()).data().toString()).toBe('reply:x');
    expect(e.gateway.conns[1]?.preamble).toBe('BERTH-EGRESS btk_rotated');

    // Unusable tokens: the client is closed, the gateway never sees a connection.
    for (const content of ['', '\n', 'bad\x01token\n', `${'t'.repeat(513)}\n`]) {
      writeFileSync(e.tokenFile, content);
      const c = await exchange();
      expect(c.data().length).toBe(0);
    }
    rmSync(e.tokenFile);
    expect((await exchange()).data().length).toBe(0);
    expect(e.gateway.conns).toHaveLength(2);

    writeFileSync(e.tokenFile, `${'t'.repeat(512)}\n`);
    expect((await exchange()).data().toString()).toBe('reply:x');
    expect(e.gateway.conns[2]?.preamble).toBe(`BERTH-EGRESS ${'t'.repeat(512)}`);
    await waitFor(() => e.boot.err().includes('token file readable again'));
    const log = e.boot.err();
    expect(log).toContain('connections are closed');
    expect(log).not.toContain('btk_rotated');
    expect(log).not.toContain(e.token);
  });

  it('fails closed: without a gateway the client is closed at once, and it recovers when one appears', async () => {
    const e = await startEgress({ gateway: false });
    for (const setup of ['missing', 'not a socket'] as const) {
      if (setup === 'not a socket') writeFileSync(e.gateway.path, '');
      // The TCP handshake completes in the kernel, then the forwarder resets the connection: node
      // reports it as a failed connect or as a reset after it, depending on timing.
      const started = Date.now();
      const socket = connect(e.port, '127.0.0.1');
      clients.push(socket);
      socket.on('connect', () => socket.write('GET http://example.com/ HTTP/1.1\r\n\r\n'));
      const got: Buffer[] = [];
      socket.on('data', (b: Buffer) => got.push(b));
      const error = await withTimeout(
        new Promise<string | undefined>((resolve) => {
          let code: string | undefined;
          socket.on('error', (err: NodeJS.ErrnoException) => (code = err.code));
          socket.on('close', () => resolve(code));
        }),
        2000,
        `close (${setup})`,
      );
      expect(Date.now() - started).toBeLessThan(1000);
      expect(Buffer.concat(got).length).toBe(0);
      expect(error).toBe('ECONNRESET'); // reset, not a clean end
    }
    rmSync(e.gateway.path);
    await e.gateway.listen();
    e.gateway.onConn = replyOnEnd;
    const c = await client(e.port);
    c.socket.end('hello');
    await withTimeout(c.closed, 5000, 'after recovery');
    expect(c.data().toString()).toBe('reply:hello');
    await waitFor(() => e.boot.err().includes('reachable again'));
    expect(e.boot.err()).toContain('cannot reach the egress gateway');
    expect(isAlive(e.forwarder)).toBe(true);
  });

  it('caps concurrent connections at 1024: more are accepted and closed, and room comes back', async () => {
    // The gateway ends its side after the client's end, so a client that leaves frees its slot.
    const e = await startEgress({ onConn: replyOnEnd });
    const held: Client[] = [];
    for (let i = 0; i < 1024; i += 128) {
      held.push(...(await Promise.all(Array.from({ length: 128 }, () => client(e.port)))));
    }
    await waitFor(() => e.gateway.conns.filter((c) => c.preamble !== undefined).length === 1024, 20_000);
    const extra = await client(e.port);
    await withTimeout(dropped(extra), 5000, 'over the cap');
    expect(e.gateway.conns).toHaveLength(1024);

    /** Retries until an exchange goes through (the forwarder frees a slot once it sees the end). */
    const exchangeWhenRoom = async (): Promise<boolean> => {
      for (let attempt = 0; attempt < 50; attempt++) {
        const c = await client(e.port);
        c.socket.end('again');
        await withTimeout(c.closed, 5000, 'after the cap');
        if (c.data().toString() === 'reply:again') return true;
        await sleep(20);
      }
      return false;
    };
    held.shift()?.socket.destroy();
    expect(await exchangeWhenRoom()).toBe(true);
    // Logged once; "accepting again" only below 3/4 of the cap, so the log cannot flap.
    await waitFor(() => e.boot.err().includes('1024 connections are open'));
    expect(e.boot.err().match(/connections are open/g)).toHaveLength(1);
    expect(e.boot.err()).not.toContain('accepting connections again');
    for (const h of held.splice(0, 300)) h.socket.destroy();
    await sleep(100);
    expect(await exchangeWhenRoom()).toBe(true);
    await waitFor(() => e.boot.err().includes('accepting connections again'));
  });

  it('fails before exec when the port is taken, and stops the forwarder when argv cannot run', async () => {
    const e = await startEgress({ argv: () => ['sleep', '1000'] });
    const r = helper([
      'boot',
      '--egress-listen',
      `127.0.0.1:${e.port}`,
      '--egress-socket',
      e.gateway.path,
      '--egress-token-file',
      e.tokenFile,
      '--',
      'sh',
      '-c',
      'echo should-not-run',
    ]);
    expect(expectError(r, 'io_error')).toMatch(/cannot listen on 127\.0\.0\.1:\d+: Address already in use/);

    const port = await freePort();
    const pidfile = join(dir, 'fwd2.pid');
    const failed = helper([
      'boot',
      '--egress-listen',
      `127.0.0.1:${port}`,
      '--egress-socket',
      e.gateway.path,
      '--egress-token-file',
      e.tokenFile,
      '--egress-pidfile',
      pidfile,
      '--',
      join(dir, 'no-such-command'),
    ]);
    expect(failed.code).toBe(127);
    expect(failed.stderr).toMatch(/"error":"not_found"/);
    expect(readdirSync(dir)).not.toContain('fwd2.pid');
    // Nothing listens there any more.
    const refused = await new Promise<string>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });
});
