import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
      'rm',
      'events',
      'runtimes',
      'images',
      'tokens',
      'system',
      'serve',
    ]) {
      expect(stdout).toMatch(new RegExp(`\\n  ${command}\\b`));
    }
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
