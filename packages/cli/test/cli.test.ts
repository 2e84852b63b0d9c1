import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Workspace } from '@berth/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { removeLabeled, RUN_LABEL } from '../../server/test/harness.js';
import { BIN, startServe, stopServe } from './serve.js';

const runId = `t-cli-${randomUUID().slice(0, 8)}`;
let dataDir: string;
let serve: ChildProcess;
let url: string;
let firstOutput = '';

/** Runs the real `berth` binary; the token comes from <dataDir>/admin-token, as on a server host. */
function berth(...args: string[]): { code: number; stdout: string; stderr: string; json: () => unknown } {
  const res = spawnSync(BIN, ['--url', url, '--data-dir', dataDir, ...args], {
    env: { ...process.env, BERTH_TOKEN: '', BERTH_URL: '' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return {
    code: res.status ?? -1,
    stdout: res.stdout,
    stderr: res.stderr,
    json: () => JSON.parse(res.stdout) as unknown,
  };
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'berth-cli-'));
  writeFileSync(join(dataDir, 'berth.yaml'), stringify({ engine: { labels: { [RUN_LABEL]: runId } } }));
  const started = await startServe(dataDir);
  serve = started.child;
  url = started.url;
  firstOutput = started.output;
});

afterAll(async () => {
  try {
    if (serve) await stopServe(serve);
  } finally {
    await removeLabeled(runId);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

describe('berth serve', () => {
  it('generates an admin token at first start, stores it with mode 0600 and prints it once', async () => {
    const file = join(dataDir, 'admin-token');
    const token = readFileSync(file, 'utf8').trim();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(firstOutput).toContain(token);

    // A second start reuses it and does not print it again.
    expect(await stopServe(serve)).toBe(0);
    const again = await startServe(dataDir);
    serve = again.child;
    url = again.url;
    expect(again.output).not.toContain(token);
    expect(again.output).toContain('admin-token');
  });
});

describe('berth commands against the running daemon', () => {
  it('documents every command in --help, even when the Node on PATH is older than 22', () => {
    const res = spawnSync(BIN, ['--help'], {
      env: { ...process.env, PATH: `/usr/bin:/bin` },
      encoding: 'utf8',
    });
    expect(res.status).toBe(0);
    for (const command of [
      'serve',
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
    ]) {
      expect(res.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
    expect(res.stdout).toMatch(/Exit codes/);
  });

  it('creates, lists, stops, starts, restarts and removes with one JSON document per command', () => {
    const created = berth(
      'create',
      'cli-one',
      '--json',
      '-e',
      'MODE=test',
      '-l',
      'suite=cli',
      '-p',
      '3000:web',
      '--file',
      'config.yaml=a: 1',
    );
    expect(created.code, created.stderr).toBe(0);
    const ws = created.json() as Workspace;
    expect(ws).toMatchObject({
      name: 'cli-one',
      status: 'running',
      env: { MODE: 'test' },
      labels: { suite: 'cli' },
    });
    expect(ws.endpoints.find((e) => e.name === 'web')?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ws.files).toEqual(['config.yaml']);

    const listed = berth('ls', '--json', '-l', 'suite=cli');
    expect(listed.code).toBe(0);
    expect((listed.json() as { items: Workspace[] }).items.map((w) => w.name)).toEqual(['cli-one']);
    const table = berth('ls');
    expect(table.stdout).toMatch(/NAME\s+ID\s+RUNTIME/);
    expect(table.stdout).toContain('cli-one');

    expect((berth('stop', 'cli-one', '--json').json() as Workspace).status).toBe('stopped');
    expect((berth('start', 'cli-one', '--json').json() as Workspace).status).toBe('running');
    expect((berth('restart', 'cli-one', '--json').json() as Workspace).status).toBe('running');
    const got = berth('get', 'cli-one');
    expect(got.stdout).toContain(ws.id);
    expect(got.stdout).not.toContain('=test'); // env values are not printed

    const removed = berth('rm', 'cli-one', '--json');
    expect(removed.code).toBe(0);
    expect(berth('rm', 'cli-one').code).toBe(0); // idempotent
  });

  it('exits with the documented codes', () => {
    const missing = berth('get', 'no-such-workspace', '--json');
    expect(missing.code).toBe(3);
    expect(missing.json()).toMatchObject({ error: { code: 'workspace_not_found' } });

    const invalid = berth('create', '--json', '-e', 'LD_PRELOAD=/x.so');
    expect(invalid.code).toBe(5);
    expect(invalid.json()).toMatchObject({ error: { code: 'reserved_env_key' } });

    const failed = berth('create', 'cli-fails', '--json', '--image', 'registry.invalid/berth/none:1');
    expect(failed.code).toBe(8);
    expect(failed.stdout).toContain('image_not_found');
    berth('rm', 'cli-fails');

    expect(berth('create', '--tier', '9').code).toBe(2);
    const unauth = spawnSync(BIN, ['--url', url, '--token', 'wrong-token-1234567', 'ls', '--json'], {
      encoding: 'utf8',
    });
    expect(unauth.status).toBe(6);
    expect(unauth.stdout).not.toContain('wrong-token-1234567');
  });
});
