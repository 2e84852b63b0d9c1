import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { EXIT, runCli } from './cli.js';

function collector(isTTY = false) {
  const chunks: string[] = [];
  return { isTTY, write: (s: string) => chunks.push(s), text: () => chunks.join('') };
}

async function run(argv: string[], extra: Parameters<typeof runCli>[1] = {}) {
  const stdout = collector();
  const stderr = collector();
  const code = await runCli(argv, { stdout, stderr, env: {}, homedir: '/nonexistent-home', ...extra });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

/** A loopback port nothing listens on: bind an ephemeral port, then release it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('runCli', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('prints help on stdout with exit 0, documenting exit codes and the token fallback', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(EXIT.ok);
    expect(stdout).toContain('Exit codes:');
    expect(stdout).toContain('8  workspace failed');
    expect(stdout).toContain('admin-token');
    for (const command of [
      'create',
      'ls',
      'get',
      'stop',
      'start',
      'restart',
      'stats',
      'rm',
      'events',
      'exec',
      'shell',
      'logs',
      'files',
      'cp',
      'preview',
      'runtimes',
      'images',
      'tokens',
      'secrets',
      'system',
      'serve',
    ]) {
      expect(stdout).toMatch(new RegExp(`\\n  ${command}\\b`));
    }
    expect(stdout).toContain('Inside a workspace:');
    expect(stdout).toContain('124');
    expect(stdout).toContain('NDJSON');
  });

  it('documents every option of the new commands in their help', async () => {
    const expectations: Record<string, string[]> = {
      exec: ['--cwd', '--env', '--user', '--timeout', '--shell', '--no-stdin', '124'],
      shell: ['--cmd', '--cwd', '--env', 'raw mode'],
      logs: ['--follow', '--tail', '--timestamps', '--since', 'NDJSON'],
      files: ['ls', 'cat', 'put', 'stat', 'mkdir', 'mv', 'rm'],
      cp: ['<workspace>:<path>', '/.', 'symlink'],
      preview: ['--ttl', 'cookie'],
    };
    for (const [command, words] of Object.entries(expectations)) {
      const { code, stdout } = await run([command, '--help']);
      expect(code).toBe(EXIT.ok);
      for (const word of words) expect(stdout, `${command} --help`).toContain(word);
    }
    for (const sub of ['ls', 'cat', 'put', 'stat', 'mkdir', 'mv', 'rm']) {
      const { code, stdout } = await run(['files', sub, '--help']);
      expect(code).toBe(EXIT.ok);
      expect(stdout).toContain('--root');
    }
  });

  it('refuses berth shell without a terminal, suggesting exec', async () => {
    const stdin = Object.assign(Readable.from([]), { isTTY: false });
    const result = await run(['shell', 'ws1', '--url', 'http://127.0.0.1:9'], { stdin });
    expect(result.code).toBe(EXIT.usage);
    expect(result.stderr).toContain('berth exec');
  });

  it('refuses cp without exactly one workspace side', async () => {
    expect((await run(['cp', './a', './b'])).code).toBe(EXIT.usage);
    const both = await run(['cp', 'w1:a', 'w2:b']);
    expect(both.code).toBe(EXIT.usage);
    expect(both.stderr).toContain('between workspaces');
  });

  it('runs exec --json through POST /exec and exits with the command exit code', async () => {
    const bodies: unknown[] = [];
    const fetch: typeof globalThis.fetch = (input, init) => {
      expect(input instanceof Request ? input.url : input.toString()).toBe(
        'http://berth.test/v1/workspaces/ws1/exec',
      );
      bodies.push(JSON.parse(init?.body as string));
      return Promise.resolve(
        Response.json({
          exitCode: 3,
          stdout: 'out',
          stderr: '',
          durationMs: 1,
          timedOut: false,
          truncated: { stdout: false, stderr: false },
        }),
      );
    };
    const stdin = Object.assign(Readable.from([Buffer.from('piped')]), { isTTY: false });
    const result = await run(
      [
        'exec',
        'ws1',
        '--json',
        '--url',
        'http://berth.test',
        '-e',
        'A=1',
        '--timeout',
        '5s',
        '--',
        'sh',
        '-c',
        'exit 3',
      ],
      { fetch, stdin },
    );
    expect(result.code).toBe(3);
    expect(JSON.parse(result.stdout)).toMatchObject({ exitCode: 3, stdout: 'out' });
    expect(bodies).toEqual([
      {
        cmd: ['sh', '-c', 'exit 3'],
        env: { A: '1' },
        timeoutMs: 5000,
        stdin: 'cGlwZWQ=',
        stdinEncoding: 'base64',
      },
    ]);
  });

  it('prints a preview URL made absolute', async () => {
    const fetch: typeof globalThis.fetch = () =>
      Promise.resolve(
        Response.json(
          {
            path: '/v1/workspaces/ws_1/ports/3000/?berth_preview=tok',
            token: 'tok',
            expiresAt: '2030-01-01T00:00:00.000Z',
          },
          { status: 201 },
        ),
      );
    const result = await run(['preview', 'ws1', '3000', '--url', 'http://berth.test/'], { fetch });
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toBe('http://berth.test/v1/workspaces/ws_1/ports/3000/?berth_preview=tok\n');
  });

  it('exits 2 on usage errors, with one JSON document under --json', async () => {
    const bad = await run(['create', '--tier', '7', '--json']);
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.stderr).toContain("option '--tier <1-4>' argument '7' is invalid");
    const doc = JSON.parse(bad.stdout) as { error: { code: string } };
    expect(doc.error.code).toBe('usage_error');
    expect(bad.stdout.trim().split('\n')).toHaveLength(1);

    expect((await run(['frobnicate'])).code).toBe(EXIT.usage);
    expect((await run(['get'])).code).toBe(EXIT.usage);
  });

  it('exits 7 with a hint when the server is not reachable', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const human = await run(['ls', '--url', url]);
    expect(human.code).toBe(EXIT.unavailable);
    expect(human.stderr).toContain(`cannot reach the Berth server at ${url}`);
    expect(human.stderr).toContain('berth serve');
    expect(human.stdout).toBe('');

    const json = await run(['--json', 'system'], { env: { BERTH_URL: url } });
    expect(json.code).toBe(EXIT.unavailable);
    expect(JSON.parse(json.stdout)).toEqual({
      error: { code: 'connection_failed', message: expect.stringContaining(url) as string, requestId: null },
    });
  });

  it('takes the token from --token, else BERTH_TOKEN, else <data-dir>/admin-token', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-cli-'));
    dirs.push(dataDir);
    writeFileSync(join(dataDir, 'admin-token'), 'file-token\n');
    const seen: (string | undefined)[] = [];
    const fetch: typeof globalThis.fetch = (_input, init) => {
      seen.push((init?.headers as Record<string, string>).authorization);
      return Promise.resolve(Response.json({ items: [] }));
    };
    await run(['tokens', 'ls', '--data-dir', dataDir], { fetch });
    await run(['tokens', 'ls'], { fetch, env: { BERTH_DATA_DIR: dataDir, BERTH_TOKEN: 'env-token' } });
    await run(['tokens', 'ls', '--token', 'flag-token'], { fetch, env: { BERTH_TOKEN: 'env-token' } });
    await run(['tokens', 'ls'], { fetch, env: { BERTH_DATA_DIR: join(dataDir, 'missing') } });
    expect(seen).toEqual(['Bearer file-token', 'Bearer env-token', 'Bearer flag-token', undefined]);
  });

  it('prints -e KEY problems as usage errors before calling the server', async () => {
    const result = await run(['create', '-e', 'UNSET_VAR', '--url', 'http://127.0.0.1:9']);
    expect(result.code).toBe(EXIT.usage);
    expect(result.stderr).toContain('UNSET_VAR is not set');
  });
});
