import { afterEach, describe, expect, it } from 'vitest';
import { Berth } from './berth.js';
import type { BerthError } from './errors.js';
import { toBytes } from './bytes.js';
import { CommandExitError, ConnectionError, NotFoundError, TimeoutError } from './errors.js';
import { encodeOutputFrame } from './frames.js';

/** A browser-style WebSocket whose server side the test plays. */
class FakeSocket {
  static instances: FakeSocket[] = [];
  binaryType = 'blob';
  readyState = 0;
  bufferedAmount = 0;
  onopen: ((e: unknown) => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;
  readonly sent: (string | Uint8Array)[] = [];
  closedWith: [number, string] | undefined;

  constructor(
    readonly url: string,
    readonly protocols: string[],
    accept = true,
  ) {
    FakeSocket.instances.push(this);
    setTimeout(() => {
      if (!accept || FakeSocket.refuse) {
        this.serverClose(1006, '');
        return;
      }
      this.readyState = 1;
      this.onopen?.({});
    }, 0);
  }

  static refuse = false;

  send(data: string | Uint8Array): void {
    if (this.readyState !== 1) throw new Error('not open');
    this.sent.push(typeof data === 'string' ? data : new Uint8Array(data));
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState >= 2) return;
    this.closedWith = [code, reason];
    this.readyState = 2;
    setTimeout(() => this.serverClose(code, reason), 0);
  }

  /** JSON messages the client sent. */
  messages(): Record<string, unknown>[] {
    return this.sent
      .filter((s): s is string => typeof s === 'string')
      .map((s) => JSON.parse(s) as Record<string, unknown>);
  }

  serverJson(value: unknown): void {
    this.onmessage?.({ data: JSON.stringify(value) });
  }

  serverBytes(bytes: Uint8Array): void {
    const copy = bytes.slice();
    this.onmessage?.({ data: copy.buffer });
  }

  serverClose(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

/** The next socket, once the client sent its first message (or opened, for re-attach). */
async function nextSocket(index: number, wantStart = true): Promise<FakeSocket> {
  for (let i = 0; i < 500; i++) {
    const socket = FakeSocket.instances[index];
    if (socket && socket.readyState === 1 && (!wantStart || socket.sent.length > 0)) return socket;
    await tick();
  }
  throw new Error('no socket');
}

const requests: { url: string; init: RequestInit }[] = [];
const urlOf = (input: string | URL | Request): string =>
  typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
const fakeFetch: typeof fetch = (input, init) => {
  const url = urlOf(input);
  requests.push({ url, init: init ?? {} });
  if (url.endsWith('/exec')) {
    return Promise.resolve(
      Response.json({
        exitCode: 2,
        stdout: '',
        stderr: 'boom\n',
        durationMs: 5,
        timedOut: false,
        truncated: { stdout: false, stderr: false },
      }),
    );
  }
  if (url.includes('/v1/workspaces/missing')) {
    return Promise.resolve(
      Response.json(
        { code: 'workspace_not_found', message: 'no workspace missing', requestId: 'req_1' },
        { status: 404 },
      ),
    );
  }
  return Promise.resolve(Response.json({}));
};

function client(): Berth {
  return new Berth({
    url: 'http://berth.test:7420',
    token: 'secret-token',
    fetch: fakeFetch,
    WebSocket: FakeSocket as unknown as typeof WebSocket,
  });
}

const info = (id: string) => ({
  id,
  workspaceId: 'ws_1',
  cmd: ['/bin/sh', '-c', 'x'],
  background: false,
  startedAt: new Date().toISOString(),
  running: true,
  exitCode: null,
  timedOut: false,
});

afterEach(() => {
  FakeSocket.instances = [];
  FakeSocket.refuse = false;
  requests.length = 0;
});

describe('commands over a WebSocket', () => {
  it('starts with the bearer subprotocol, streams output to the callbacks in order and resolves', async () => {
    const events: string[] = [];
    const pending = client()
      .workspaces.ref('w1')
      .commands.run('echo hi', {
        cwd: '/workspace',
        timeoutMs: 5000,
        onStdout: (d) => events.push(`out:${d}`),
        onStderr: (d) => events.push(`err:${d}`),
      });
    const socket = await nextSocket(0);
    expect(socket.url).toBe('ws://berth.test:7420/v1/workspaces/w1/commands/stream');
    expect(socket.protocols).toEqual([
      'berth.v1',
      `berth.bearer.${Buffer.from('secret-token').toString('base64url')}`,
    ]);
    expect(socket.binaryType).toBe('arraybuffer');
    socket.serverJson({ type: 'started', command: info('cmd_1') });
    await tick();
    // stdin is closed right away when none is given
    expect(socket.messages()).toEqual([
      { type: 'start', command: 'echo hi', cwd: '/workspace', timeoutMs: 5000 },
      { type: 'stdin-close' },
    ]);
    const euro = toBytes('a€');
    socket.serverBytes(encodeOutputFrame('stdout', euro.subarray(0, 2)));
    socket.serverBytes(encodeOutputFrame('stderr', toBytes('warn\n')));
    socket.serverBytes(encodeOutputFrame('stdout', euro.subarray(2)));
    socket.serverJson({ type: 'exit', exitCode: 0, timedOut: false });
    socket.serverClose(1000, 'exited');
    const result = await pending;
    expect(events).toEqual(['out:a', 'err:warn\n', 'out:€']);
    expect(result).toMatchObject({
      exitCode: 0,
      stdout: 'a€',
      stderr: 'warn\n',
      timedOut: false,
      truncated: { stdout: false, stderr: false },
    });
  });

  it('throws CommandExitError with the result on a non-zero exit, unless allowNonZeroExit', async () => {
    const pending = client()
      .workspaces.ref('w1')
      .commands.run(['false'], { onStdout: () => undefined })
      .catch((e: unknown) => e);
    const socket = await nextSocket(0);
    expect(socket.messages()[0]).toEqual({ type: 'start', cmd: ['false'] });
    socket.serverJson({ type: 'started', command: info('cmd_2') });
    socket.serverBytes(encodeOutputFrame('stderr', toBytes('bad thing\n')));
    socket.serverJson({ type: 'exit', exitCode: 1, timedOut: false });
    const err = (await pending) as CommandExitError;
    expect(err).toBeInstanceOf(CommandExitError);
    expect(err.exitCode).toBe(1);
    expect(err.stderr).toBe('bad thing\n');
    expect(err.message).toContain('bad thing');

    const allowed = client()
      .workspaces.ref('w1')
      .commands.run('sleep 9', { onStdout: () => undefined, allowNonZeroExit: true, maxOutputBytes: 2 });
    const second = await nextSocket(1);
    second.serverJson({ type: 'started', command: info('cmd_3') });
    second.serverBytes(encodeOutputFrame('stdout', toBytes('abc')));
    second.serverJson({ type: 'exit', exitCode: 137, timedOut: true });
    expect(await allowed).toMatchObject({
      exitCode: 137,
      timedOut: true,
      stdout: 'ab',
      truncated: { stdout: true },
    });
  });

  it('sends kill when the signal aborts and rejects with its reason', async () => {
    const controller = new AbortController();
    const pending = client()
      .workspaces.ref('w1')
      .commands.run('sleep 100', { onStdout: () => undefined, signal: controller.signal })
      .catch((e: unknown) => e);
    const socket = await nextSocket(0);
    socket.serverJson({ type: 'started', command: info('cmd_4') });
    await tick();
    const reason = new Error('user gave up');
    controller.abort(reason);
    expect(await pending).toBe(reason);
    expect(socket.messages().at(-1)).toEqual({ type: 'kill' });
    expect(socket.closedWith).toBeDefined();
  });

  it('gives a background handle: stdin, signals, kill, disconnect', async () => {
    const pending = client().workspaces.ref('w1').commands.run('cat', { background: true });
    const socket = await nextSocket(0);
    expect(socket.messages()[0]).toEqual({ type: 'start', command: 'cat', background: true });
    socket.serverJson({ type: 'started', command: { ...info('cmd_5'), background: true } });
    const handle = await pending;
    expect(handle.id).toBe('cmd_5');
    await handle.sendStdin('hello');
    await handle.closeStdin();
    await handle.sendSignal('SIGTERM');
    await handle.kill('SIGINT');
    await handle.kill();
    expect(socket.sent[1]).toEqual(toBytes('hello'));
    expect(socket.messages().slice(1)).toEqual([
      { type: 'stdin-close' },
      { type: 'signal', signal: 'SIGTERM' },
      { type: 'signal', signal: 'SIGINT' },
      { type: 'kill' },
    ]);
    const waiting = handle.wait().catch((e: unknown) => e);
    await handle.disconnect();
    const err = (await waiting) as BerthError;
    expect(err.code).toBe('disconnected');
    expect(handle.connected).toBe(false);
  });

  it('re-attaches with connect(), replaying output before live output', async () => {
    const chunks: string[] = [];
    const pending = client()
      .workspaces.ref('w1')
      .commands.connect('cmd_6', { onStdout: (d) => chunks.push(d) });
    const socket = await nextSocket(0, false);
    expect(socket.url).toBe('ws://berth.test:7420/v1/workspaces/w1/commands/cmd_6/stream');
    expect(socket.sent).toEqual([]);
    // The server may send output in the same turn as `started`.
    socket.serverJson({ type: 'started', command: { ...info('cmd_6'), background: true } });
    socket.serverBytes(encodeOutputFrame('stdout', toBytes('one ')));
    const handle = await pending;
    socket.serverBytes(encodeOutputFrame('stdout', toBytes('two')));
    socket.serverJson({ type: 'exit', exitCode: 0 });
    expect((await handle.wait()).stdout).toBe('one two');
    expect(chunks).toEqual(['one ', 'two']);
  });

  it('turns an error message before start into the typed error', async () => {
    const pending = client()
      .workspaces.ref('w1')
      .commands.connect('cmd_nope')
      .catch((e: unknown) => e);
    const socket = await nextSocket(0, false);
    socket.serverJson({ type: 'error', code: 'command_not_found', message: 'no command cmd_nope' });
    socket.serverClose(1008, 'command_not_found');
    const err = (await pending) as NotFoundError;
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toMatchObject({ code: 'command_not_found', status: 404, message: 'no command cmd_nope' });
  });

  it('asks over HTTP why a refused upgrade failed', async () => {
    FakeSocket.refuse = true;
    const err = await client()
      .workspaces.ref('missing')
      .commands.run('x', { onStdout: () => undefined })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).code).toBe('workspace_not_found');
    const refused = await client()
      .workspaces.ref('w1')
      .commands.run('x', { onStdout: () => undefined })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConnectionError);
  });

  it('reports a stream that breaks off as ConnectionError', async () => {
    const pending = client()
      .workspaces.ref('w1')
      .commands.run('x', { onStdout: () => undefined })
      .catch((e: unknown) => e);
    const socket = await nextSocket(0);
    socket.serverJson({ type: 'started', command: info('cmd_7') });
    await tick();
    socket.serverClose(1006, '');
    expect(await pending).toBeInstanceOf(ConnectionError);
  });

  it('times out when the server never answers started', async () => {
    const berth = new Berth({
      url: 'http://berth.test:7420',
      token: 't',
      timeoutMs: 30,
      fetch: fakeFetch,
      WebSocket: FakeSocket as unknown as typeof WebSocket,
    });
    const err = await berth.workspaces
      .ref('w1')
      .commands.start('x')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
  });
});

describe('one-shot exec', () => {
  it('posts stdin bytes as base64 and throws CommandExitError on a non-zero exit', async () => {
    const err = await client()
      .workspaces.ref('w1')
      .commands.run('cat', { stdin: new Uint8Array([0, 255]), env: { A: '1' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandExitError);
    expect((err as CommandExitError).result.stderr).toBe('boom\n');
    const sent = requests.at(-1)!;
    expect(sent.url).toBe('http://berth.test:7420/v1/workspaces/w1/exec');
    expect(JSON.parse(sent.init.body as string)).toEqual({
      command: 'cat',
      env: { A: '1' },
      stdin: 'AP8=',
      stdinEncoding: 'base64',
    });
    const result = await client()
      .workspaces.ref('w1')
      .commands.run(['sh', '-c', 'exit 2'], { stdin: 'text', allowNonZeroExit: true });
    expect(result.exitCode).toBe(2);
    expect(JSON.parse(requests.at(-1)!.init.body as string)).toMatchObject({
      cmd: ['sh', '-c', 'exit 2'],
      stdin: 'text',
    });
  });
});

describe('terminals over a WebSocket', () => {
  it('creates a PTY, passes raw output, sends input and resizes, and reports the exit code', async () => {
    const output: Uint8Array[] = [];
    const pending = client()
      .workspaces.ref('w1')
      .pty.create({ cols: 100, rows: 30, onData: (d) => output.push(d), cmd: ['/bin/sh'] });
    const socket = await nextSocket(0);
    expect(socket.url).toBe('ws://berth.test:7420/v1/workspaces/w1/terminals/stream');
    expect(socket.messages()[0]).toEqual({ type: 'start', cols: 100, rows: 30, cmd: ['/bin/sh'] });
    socket.serverJson({
      type: 'started',
      terminal: {
        id: 'term_1',
        workspaceId: 'ws_1',
        cmd: ['/bin/sh'],
        cols: 100,
        rows: 30,
        startedAt: '',
        attached: true,
        running: true,
      },
    });
    const pty = await pending;
    expect(pty.id).toBe('term_1');
    expect(pty.lastSeq).toBe(-1);
    socket.serverBytes(new Uint8Array([1, 27, 91]));
    expect(output).toEqual([new Uint8Array([1, 27, 91])]);
    expect(pty.lastSeq).toBe(0);
    await pty.sendInput('ls\r');
    await pty.resize(120, 40);
    expect(socket.sent[1]).toEqual(toBytes('ls\r'));
    expect(socket.messages().at(-1)).toEqual({ type: 'resize', cols: 120, rows: 40 });
    socket.serverJson({ type: 'exit', exitCode: 130 });
    expect(await pty.wait()).toEqual({ exitCode: 130 });
  });

  it('reconnects with after= and rejects wait() after disconnect()', async () => {
    const pending = client()
      .workspaces.ref('w1')
      .pty.connect('term_2', { onData: () => undefined, after: 41 });
    const socket = await nextSocket(0, false);
    expect(socket.url).toBe('ws://berth.test:7420/v1/workspaces/w1/terminals/term_2/stream?after=41');
    socket.serverJson({
      type: 'started',
      terminal: {
        id: 'term_2',
        workspaceId: 'ws_1',
        cmd: ['sh'],
        cols: 80,
        rows: 24,
        startedAt: '',
        attached: true,
        running: true,
      },
    });
    const pty = await pending;
    socket.serverBytes(new Uint8Array([65]));
    expect(pty.lastSeq).toBe(42);
    const waiting = pty.wait().catch((e: unknown) => e);
    await pty.disconnect();
    expect(((await waiting) as BerthError).code).toBe('disconnected');
  });
});
