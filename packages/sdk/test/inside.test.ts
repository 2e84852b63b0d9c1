import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBerth, type TestBerth } from '../../server/test/harness.js';
import {
  Berth,
  CommandExitError,
  NotFoundError,
  ValidationError,
  type BerthError,
  type LogLine,
  type PtyHandle,
  type Workspace,
} from '../src/index.js';

let server: TestBerth;
let berth: Berth;
let ws: Workspace;
beforeAll(async () => {
  server = await startBerth();
  berth = new Berth({ url: server.url, token: server.token });
  ws = await berth.workspaces.create({ name: 'sdk-inside', ports: [3000] });
});
afterAll(async () => {
  try {
    await ws?.delete();
  } finally {
    await server.cleanup();
  }
});

/** Polls until `check` holds (or throws after `timeoutMs`). */
async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function tarOf(
  entries: (Partial<tar.Header> & { name: string; body?: string | Buffer })[],
): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of pack as AsyncIterable<Buffer>) chunks.push(chunk);
  })();
  for (const { body, ...header } of entries) {
    await new Promise<void>((resolve, reject) =>
      pack.entry(header, body ?? '', (e) => (e ? reject(e) : resolve())),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function untar(
  bytes: Uint8Array,
): Promise<Map<string, { type: string; body: Buffer; linkname?: string }>> {
  const extract = tar.extract();
  const out = new Map<string, { type: string; body: Buffer; linkname?: string }>();
  const reading = (async () => {
    for await (const entry of extract) {
      const parts: Buffer[] = [];
      for await (const chunk of entry as AsyncIterable<Buffer>) parts.push(chunk);
      out.set(entry.header.name, {
        type: entry.header.type,
        body: Buffer.concat(parts),
        linkname: entry.header.linkname,
      });
    }
  })();
  extract.end(Buffer.from(bytes));
  await reading;
  return out;
}

describe('commands', () => {
  it('runs a shell line and an argv to completion', async () => {
    const result = await ws.commands.run('echo hello; echo oops >&2');
    expect(result).toMatchObject({ exitCode: 0, stdout: 'hello\n', stderr: 'oops\n', timedOut: false });
    expect(result.truncated).toEqual({ stdout: false, stderr: false });
    expect((await ws.commands.run(['printf', '%s|', 'a b', 'c'])).stdout).toBe('a b|c|');
    const env = await ws.commands.run('echo "$FOO"; pwd; id -u', { env: { FOO: 'bar' }, cwd: '/tmp' });
    expect(env.stdout).toBe('bar\n/tmp\n1000\n');
  });

  it('passes stdin, text or bytes', async () => {
    expect((await ws.commands.run('cat', { stdin: 'piped ✓' })).stdout).toBe('piped ✓');
    const bytes = new Uint8Array(256).map((_v, i) => i);
    expect((await ws.commands.run('wc -c', { stdin: bytes })).stdout.trim()).toBe('256');
    const streamed = await ws.commands.run('cat; echo', { stdin: 'abc', onStdout: () => undefined });
    expect(streamed.stdout).toBe('abc\n');
  });

  it('throws CommandExitError on a non-zero exit unless allowed', async () => {
    const err = await ws.commands.run('echo partial; echo bad >&2; exit 3').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandExitError);
    expect(err).toMatchObject({ exitCode: 3, stdout: 'partial\n', stderr: 'bad\n' });
    const allowed = await ws.commands.run('exit 4', { allowNonZeroExit: true });
    expect(allowed.exitCode).toBe(4);
    const streamed = await ws.commands.run('exit 5', { onStdout: () => undefined }).catch((e: unknown) => e);
    expect(streamed).toBeInstanceOf(CommandExitError);
    expect((streamed as CommandExitError).exitCode).toBe(5);
  });

  it('kills a command at its timeout and says so', async () => {
    const started = Date.now();
    const oneShot = await ws.commands.run('sleep 30', { timeoutMs: 500, allowNonZeroExit: true });
    expect(oneShot.timedOut).toBe(true);
    expect(oneShot.exitCode).not.toBe(0);
    const streamed = await ws.commands
      .run('echo start; sleep 30', { timeoutMs: 500, onStdout: () => undefined })
      .catch((e: unknown) => e);
    expect(streamed).toBeInstanceOf(CommandExitError);
    expect((streamed as CommandExitError).timedOut).toBe(true);
    expect((streamed as CommandExitError).stdout).toBe('start\n');
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('streams output to the callbacks in order, decoding split characters whole', async () => {
    const events: string[] = [];
    const result = await ws.commands.run(
      'for i in 1 2 3; do echo out$i; sleep 0.1; echo err$i >&2; sleep 0.1; done; printf "\\342"; sleep 0.2; printf "\\202\\254\\n"',
      { onStdout: (d) => events.push(`out:${d}`), onStderr: (d) => events.push(`err:${d}`) },
    );
    expect(events.slice(0, 6)).toEqual([
      'out:out1\n',
      'err:err1\n',
      'out:out2\n',
      'err:err2\n',
      'out:out3\n',
      'err:err3\n',
    ]);
    const rest = events.slice(6);
    expect(rest.join('')).toBe('out:€\n');
    expect(rest.some((e) => e.includes('\uFFFD'))).toBe(false);
    expect(result.stdout).toBe('out1\nout2\nout3\n€\n');
    expect(result.stderr).toBe('err1\nerr2\nerr3\n');
  });

  it('kills the command when the signal aborts', async () => {
    const controller = new AbortController();
    let id = '';
    const pending = ws.commands
      .run('echo ready; sleep 60', {
        signal: controller.signal,
        onStdout: () => controller.abort(new Error('enough')),
      })
      .catch((e: unknown) => e);
    expect(((await pending) as Error).message).toBe('enough');
    await waitFor(async () => {
      const running = (await ws.commands.list()).filter(
        (c) => c.running && c.cmd.join(' ').includes('sleep 60'),
      );
      id = running[0]?.id ?? '';
      return running.length === 0;
    }, 'the aborted command to end');
    expect(id).toBe('');
  });

  it('runs in the background: list, disconnect, connect, stdin, kill', async () => {
    const seen: string[] = [];
    const handle = await ws.commands.run('i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done', {
      background: true,
      onStdout: (d) => seen.push(d),
    });
    expect(handle.id).toMatch(/^cmd_/);
    await waitFor(() => seen.join('').includes('tick 2'), 'ticks');
    expect((await ws.commands.list()).find((c) => c.id === handle.id)).toMatchObject({
      running: true,
      background: true,
    });
    await handle.disconnect();
    await new Promise((r) => setTimeout(r, 300));
    expect((await ws.commands.get(handle.id)).running).toBe(true);

    const again: string[] = [];
    const attached = await ws.commands.connect(handle.id, {
      onStdout: (d) => again.push(d),
      allowNonZeroExit: true,
    });
    await waitFor(() => again.join('').includes('tick 0'), 'replayed output');
    const before = again.join('').length;
    await waitFor(() => again.join('').length > before, 'live output after the replay');
    const killed = await ws.commands.kill(handle.id);
    expect(killed.running).toBe(false);
    const result = await attached.wait();
    expect(result.exitCode).not.toBe(0);
    expect(result.stdout).toContain('tick 0');

    const cat = await ws.commands.start('cat', { background: true });
    const out: string[] = [];
    const catAgain = await ws.commands.connect(cat.id, { onStdout: (d) => out.push(d) });
    await cat.sendStdin('hello\n');
    await waitFor(() => out.join('') === 'hello\n', 'stdin echoed');
    await cat.closeStdin();
    expect((await cat.wait()).stdout).toBe('hello\n');
    expect((await catAgain.wait()).exitCode).toBe(0);
  });

  it('sends signals to the process group', async () => {
    const handle = await ws.commands.start(
      'trap "echo got TERM; exit 5" TERM; echo ready; while true; do sleep 0.1; done',
      {
        allowNonZeroExit: true,
        onStdout: () => undefined,
      },
    );
    await waitFor(() => handle.stdout.includes('ready'), 'ready');
    await handle.kill('SIGTERM');
    const result = await handle.wait();
    expect(result.exitCode).toBe(5);
    expect(result.stdout).toContain('got TERM');
  });

  it('reports unknown commands and workspaces with typed errors', async () => {
    await expect(ws.commands.connect('cmd_nope')).rejects.toMatchObject({ code: 'command_not_found' });
    await expect(ws.commands.kill('cmd_nope')).rejects.toBeInstanceOf(NotFoundError);
    const missing = await berth.workspaces
      .ref('no-such-ws')
      .commands.run('true', { onStdout: () => undefined })
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect((missing as NotFoundError).code).toBe('workspace_not_found');
  });

  // A refused upgrade must be reported as a typed error, and must not leave its socket open
  // (daemon.close() in afterAll would then hang).
  it('reports a refused upgrade (bad token) as AuthenticationError', async () => {
    const bad = new Berth({ url: server.url, token: 'not-the-token-at-all' });
    const unauth = await bad.workspaces
      .ref(ws.id)
      .commands.start('true')
      .catch((e: unknown) => e);
    expect((unauth as BerthError).code).toBe('unauthenticated');
  });
});

describe('terminals', () => {
  it('opens a PTY, echoes input, follows resizes, reconnects and exits', async () => {
    let text = '';
    const decoder = new TextDecoder();
    const pty = await ws.pty.create({
      cols: 80,
      rows: 24,
      onData: (d) => (text += decoder.decode(d, { stream: true })),
    });
    try {
      await checkTerminal(pty, () => text);
    } finally {
      // Leave nothing attached when an assertion fails (the daemon's close waits for open streams).
      await ws.pty.kill(pty.id).catch(() => undefined);
      await pty.disconnect();
    }
    const killed = await ws.pty.create({ cols: 80, rows: 24, onData: () => undefined });
    await killed.kill();
    expect((await killed.wait()).exitCode).not.toBe(0);
  });
});

async function checkTerminal(pty: PtyHandle, text: () => string): Promise<void> {
  const decoder = new TextDecoder();
  expect(pty.id).toMatch(/^term_/);
  await pty.sendInput('stty size\r');
  await waitFor(() => text().includes('24 80'), 'stty size 24 80');
  await pty.resize(100, 30);
  await pty.sendInput('stty size; echo "ab""cd"\r');
  await waitFor(() => text().includes('30 100') && text().includes('abcd'), 'the new size and the echo');

  expect((await ws.pty.list()).map((t) => t.id)).toContain(pty.id);
  const seq = pty.lastSeq;
  await pty.disconnect();
  await waitFor(
    async () => (await ws.pty.list()).find((t) => t.id === pty.id)?.attached === false,
    'detached',
  );

  let replay = '';
  const again = await ws.pty.connect(pty.id, {
    onData: (d) => (replay += decoder.decode(d, { stream: true })),
  });
  await waitFor(() => replay.includes('30 100'), 'the replayed output');
  let after = '';
  const third = await ws.pty.connect(pty.id, { after: seq, onData: (d) => (after += decoder.decode(d)) });
  await again.sendInput('exit 7\r');
  expect(await again.wait()).toEqual({ exitCode: 7 });
  expect(await third.wait()).toEqual({ exitCode: 7 });
  expect(after).not.toContain('24 80');
}

describe('files', () => {
  it('round-trips binary data byte for byte, as bytes, text and streams', async () => {
    const bytes = new Uint8Array(300_000).map((_v, i) => (i * 7919) % 256);
    const info = await ws.files.write('data/bin.dat', bytes, { mode: 0o600 });
    expect(info).toMatchObject({
      path: 'data/bin.dat',
      name: 'bin.dat',
      type: 'file',
      size: bytes.length,
      mode: 0o600,
    });
    expect(
      Buffer.from(await ws.files.read('data/bin.dat', { format: 'bytes' })).equals(Buffer.from(bytes)),
    ).toBe(true);
    const stream = await ws.files.read('/workspace/data/bin.dat', { format: 'stream' });
    expect(Buffer.from(await new Response(stream).arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);

    await ws.files.write('hello.txt', 'héllo ✓\n');
    expect(await ws.files.read('hello.txt')).toBe('héllo ✓\n');
    const body = new Blob(['from a ', 'blob']).stream();
    await ws.files.write('streamed.txt', body);
    expect(await ws.files.read('streamed.txt')).toBe('from a blob');
    await ws.files.write('/configs/extra.yaml', 'a: 1\n');
    expect(await ws.files.read('extra.yaml', { root: 'configs' })).toBe('a: 1\n');
  });

  it('lists, stats, makes directories, renames and removes', async () => {
    await ws.files.makeDir('tree/a/b');
    await ws.files.write('tree/a/b/c.txt', 'c');
    const top = await ws.files.list('tree');
    expect(top.map((f) => f.name)).toEqual(['a']);
    expect(top.truncated).toBe(false);
    const deep = await ws.files.list('tree', { depth: 3 });
    expect(deep.map((f) => f.path)).toEqual(['tree/a', 'tree/a/b', 'tree/a/b/c.txt']);
    expect((await ws.files.list('tree', { depth: 3, limit: 1 })).truncated).toBe(true);
    expect((await ws.files.getInfo('tree/a')).type).toBe('dir');
    expect(await ws.files.exists('tree/a/b/c.txt')).toBe(true);

    const moved = await ws.files.rename('tree/a/b/c.txt', 'tree/c.txt');
    expect(moved.path).toBe('tree/c.txt');
    expect(await ws.files.exists('tree/a/b/c.txt')).toBe(false);
    await ws.files.write('tree/d.txt', 'd');
    await expect(ws.files.rename('tree/d.txt', 'tree/c.txt')).rejects.toMatchObject({ code: 'file_exists' });
    await ws.files.rename('tree/d.txt', 'tree/c.txt', { overwrite: true });
    expect(await ws.files.read('tree/c.txt')).toBe('d');

    await expect(ws.files.remove('tree')).rejects.toMatchObject({ code: 'directory_not_empty' });
    await ws.files.remove('tree', { recursive: true });
    expect(await ws.files.exists('tree')).toBe(false);
  });

  it('gives typed errors for missing files and bad paths', async () => {
    const missing = await ws.files.read('nope.txt').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect((missing as NotFoundError).code).toBe('file_not_found');
    await expect(ws.files.read('../etc/passwd')).rejects.toMatchObject({ code: 'invalid_path' });
    await expect(ws.files.read('/etc/passwd')).rejects.toBeInstanceOf(ValidationError);
    await ws.commands.run('ln -sf /etc/passwd /workspace/escape');
    await expect(ws.files.read('escape')).rejects.toMatchObject({ code: 'path_escapes_root' });
  });

  it('downloads and uploads archives', async () => {
    await ws.files.write('arch/one.txt', 'one');
    await ws.files.write('arch/sub/two.bin', new Uint8Array([0, 1, 2, 255]));
    await ws.commands.run('ln -s one.txt /workspace/arch/link');
    const tarBytes = await ws.files.downloadArchive('arch', { format: 'bytes' });
    const entries = await untar(tarBytes);
    expect([...entries.keys()].sort()).toEqual([
      'arch/',
      'arch/link',
      'arch/one.txt',
      'arch/sub/',
      'arch/sub/two.bin',
    ]);
    expect(entries.get('arch/one.txt')?.body.toString()).toBe('one');
    expect([...(entries.get('arch/sub/two.bin')?.body ?? [])]).toEqual([0, 1, 2, 255]);
    expect(entries.get('arch/link')).toMatchObject({ type: 'symlink', linkname: 'one.txt' });
    const streamed = await ws.files.downloadArchive('arch');
    expect((await new Response(streamed).arrayBuffer()).byteLength).toBe(tarBytes.byteLength);

    const upload = await tarOf([
      { name: 'up/', type: 'directory' },
      { name: 'up/a.txt', type: 'file', body: 'A' },
      { name: 'up/deep/b.bin', type: 'file', body: Buffer.from([9, 8, 7]) },
    ]);
    const summary = await ws.files.uploadArchive('target', upload);
    expect(summary.entries).toBe(3);
    expect(await ws.files.read('target/up/a.txt')).toBe('A');
    expect([...(await ws.files.read('target/up/deep/b.bin', { format: 'bytes' }))]).toEqual([9, 8, 7]);
    await ws.files.uploadArchive('gz', gzipSync(upload), { gzip: true });
    expect(await ws.files.read('gz/up/a.txt')).toBe('A');

    const hostile = await tarOf([{ name: '../evil.txt', type: 'file', body: 'x' }]);
    const refused = await ws.files.uploadArchive('target', hostile).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ValidationError);
    expect((refused as ValidationError).code).toBe('invalid_archive');
  });
});

describe('logs', () => {
  it('reads the tail and follows new lines', async () => {
    // stdout and stderr are separate pipes: space the lines so the engine records them in this order.
    await ws.commands.run(
      'echo log-one > /proc/1/fd/1; sleep 0.3; echo log-err > /proc/1/fd/2; sleep 0.3; echo log-two > /proc/1/fd/1',
    );
    await waitFor(async () => (await ws.logs()).some((l) => l.text === 'log-two'), 'the log lines');
    const all = await ws.logs({ timestamps: true });
    expect(all.filter((l) => l.text.startsWith('log-')).map((l) => [l.stream, l.text])).toEqual([
      ['stdout', 'log-one'],
      ['stderr', 'log-err'],
      ['stdout', 'log-two'],
    ]);
    expect(all[0]?.time).toMatch(/^\d{4}-\d\d-\d\dT/);
    const tail = await berth.workspaces.logs('sdk-inside', { tail: 1 });
    expect(tail.length).toBeGreaterThan(0);
    expect(tail.length).toBeLessThanOrEqual(2);

    const controller = new AbortController();
    const seen: LogLine[] = [];
    const following = ws
      .logs({
        follow: true,
        tail: 0,
        signal: controller.signal,
        onLine: (line) => {
          seen.push(line);
          if (line.text === 'log-later') controller.abort(new Error('stop following'));
        },
      })
      .catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 500));
    await ws.commands.run('echo log-later > /proc/1/fd/1');
    expect(((await following) as Error).message).toBe('stop following');
    expect(seen.map((l) => l.text)).toEqual(['log-later']);
  });
});

describe('previews', () => {
  it('reaches an HTTP server started inside the workspace', async () => {
    await ws.files.write('www/index.html', 'hello from the workspace\n');
    const httpd = await ws.commands.run('httpd -f -p 3000 -h /workspace/www', { background: true });
    try {
      const preview = await ws.getPreviewUrl(3000, { ttlMs: 60_000 });
      expect(preview.url).toBe(`${server.url}${preview.path}`);
      expect(Date.parse(preview.expiresAt)).toBeGreaterThan(Date.now());
      let first: Response | undefined;
      await waitFor(async () => {
        first = await fetch(preview.url, { redirect: 'manual' });
        return first.status === 302;
      }, 'the preview redirect');
      const cookie = (first!.headers.get('set-cookie') ?? '').split(';')[0]!;
      const location = new URL(first!.headers.get('location')!, server.url).href;
      let page: Response | undefined;
      await waitFor(async () => {
        page = await fetch(location, { headers: { cookie } });
        return page.status === 200;
      }, 'httpd to answer');
      expect(await page!.text()).toBe('hello from the workspace\n');
      const noCookie = await fetch(location);
      expect(noCookie.status).toBe(401);
    } finally {
      await httpd.kill();
      await httpd.wait().catch(() => undefined);
    }
    await expect(ws.getPreviewUrl(3001)).rejects.toMatchObject({ code: 'port_not_declared' });
  });
});
