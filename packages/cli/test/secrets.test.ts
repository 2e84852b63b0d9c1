import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SecretInfo, Workspace } from '@berth/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBerth, type TestBerth } from '../../server/test/harness.js';
import { BIN } from './serve.js';

let berth: TestBerth;
let work: string;
const outputs: string[] = [];

/**
 * Runs the real `berth` binary against the test daemon, which lives in this process: so the child
 * is awaited, never run with spawnSync (that would block the daemon). The token comes from env.
 */
async function cli(
  args: string[],
  options: { input?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string; json: () => unknown }> {
  const child = spawn(BIN, ['--url', berth.url, ...args], {
    env: { ...process.env, BERTH_TOKEN: berth.token, BERTH_URL: '', ...options.env },
    cwd: work,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin.end(options.input ?? '');
  const code = await new Promise<number>((done) => child.on('close', (c) => done(c ?? -1)));
  outputs.push(stdout, stderr);
  return { code, stdout, stderr, json: () => JSON.parse(stdout) as unknown };
}

const resolve = (workspaceId: string, name: string) => berth.daemon.secrets.resolve(workspaceId, name);
const NO_WS = 'ws_0000000000000000';

beforeAll(async () => {
  berth = await startBerth();
  work = mkdtempSync(join(tmpdir(), 'berth-cli-secrets-'));
});

afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  await berth?.cleanup();
});

describe('berth secrets', () => {
  it('sets from stdin, an env var or a file, never from argv, and never prints a value', async () => {
    const fromStdin = `stdin-${randomUUID()}`;
    const set = await cli(['secrets', 'set', 'API_KEY'], { input: `${fromStdin}\n` });
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toBe('created secret API_KEY (global)\n');
    expect(await resolve(NO_WS, 'API_KEY')).toBe(fromStdin); // one trailing newline dropped

    const fromEnv = `env-${randomUUID()}`;
    const replaced = await cli(['secrets', 'set', 'API_KEY', '--from-env', 'MY_KEY', '--json'], {
      env: { MY_KEY: fromEnv },
    });
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(replaced.json()).toMatchObject({ created: false, secret: { name: 'API_KEY', scope: 'global' } });
    expect(await resolve(NO_WS, 'API_KEY')).toBe(fromEnv);

    const fromFile = `file-${randomUUID()}\nsecond line`;
    writeFileSync(join(work, 'value.txt'), `${fromFile}\n`);
    expect((await cli(['secrets', 'set', 'FILE_KEY', '--from-file', 'value.txt'])).code).toBe(0);
    expect(await resolve(NO_WS, 'FILE_KEY')).toBe(fromFile);

    // Refused before anything is sent: a value on argv, an unset variable, empty input, two sources.
    const onArgv = await cli(['secrets', 'set', 'API_KEY', 'argv-value-123']);
    expect(onArgv.code).toBe(2);
    expect(onArgv.stderr).toMatch(/shell history/);
    expect(onArgv.stderr).not.toContain('argv-value-123');
    expect((await cli(['secrets', 'set', 'API_KEY', '--from-env', 'UNSET_VAR_X'])).code).toBe(2);
    expect((await cli(['secrets', 'set', 'API_KEY'], { input: '\n' })).code).toBe(2);
    const twoSources = await cli([
      'secrets',
      'set',
      'API_KEY',
      '--from-env',
      'A',
      '--from-file',
      'value.txt',
    ]);
    expect(twoSources.code).toBe(2);
    writeFileSync(join(work, 'binary.bin'), Buffer.from([0xff, 0xfe, 0x00]));
    const binary = await cli(['secrets', 'set', 'API_KEY', '--from-file', 'binary.bin']);
    expect(binary.code).toBe(2);
    expect(binary.stderr).toMatch(/not UTF-8/);
    expect(await resolve(NO_WS, 'API_KEY')).toBe(fromEnv);

    // The server's refusals keep their codes (exit 5) and do not echo the value.
    const bad = await cli(['secrets', 'set', 'bad name', '--json'], { input: fromStdin });
    expect(bad.code).toBe(5);
    expect(bad.json()).toMatchObject({ error: { code: 'invalid_secret_name' } });

    const listed = await cli(['secrets', 'ls']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^NAME\s+SCOPE\s+WORKSPACE/);
    expect(listed.stdout).toMatch(/API_KEY\s+global/);
    expect(listed.stdout).toMatch(/FILE_KEY\s+global/);
    for (const value of [fromStdin, fromEnv, fromFile.split('\n')[0] as string]) {
      for (const text of outputs) expect(text).not.toContain(value);
    }
  });

  it('manages a workspace’s secrets with -w, removes (exit 3 when absent) and rekeys', async () => {
    const ws = (await berth.api<Workspace>('POST', '/v1/workspaces', { body: { name: 'cli-sec' } })).body;
    try {
      const set = await cli(['secrets', 'set', 'WS_KEY', '-w', 'cli-sec'], { input: 'ws-value-1234' });
      expect(set.stdout, set.stderr).toBe(`created secret WS_KEY (workspace ${ws.id})\n`);
      expect(await resolve(ws.id, 'WS_KEY')).toBe('ws-value-1234');
      const listed = (await cli(['secrets', 'ls', '-w', 'cli-sec', '--json'])).json() as {
        items: SecretInfo[];
      };
      expect(listed.items.map((s) => [s.name, s.scope, s.workspaceId])).toEqual([
        ['WS_KEY', 'workspace', ws.id],
      ]);

      expect((await cli(['secrets', 'rm', 'WS_KEY', '-w', 'cli-sec'])).code).toBe(0);
      const again = await cli(['secrets', 'rm', 'WS_KEY', '-w', 'cli-sec', '--json']);
      expect(again.code).toBe(3);
      expect(again.json()).toMatchObject({ error: { code: 'secret_not_found' } });
      expect((await cli(['secrets', 'ls', '-w', 'no-such-workspace'])).code).toBe(3);

      const rekey = await cli(['secrets', 'rekey', '--json']);
      expect(rekey.code, rekey.stderr).toBe(0);
      expect(rekey.json()).toMatchObject({
        rekeyed: expect.any(Number) as number,
        keyId: expect.any(String) as string,
      });
    } finally {
      await berth.api('DELETE', `/v1/workspaces/${ws.id}`);
    }
  });
});
