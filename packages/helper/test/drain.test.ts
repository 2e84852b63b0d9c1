import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHelper, expectError, frame, helper, HELPER, removeDir, sleep, tempDir } from './harness.js';

let dir: string;
let root: string;
beforeAll(() => {
  buildHelper();
  dir = tempDir();
  root = join(dir, 'root');
  mkdirSync(root);
});
afterAll(() => removeDir(dir));

/**
 * Commands that consume stdin read it to EOF before exiting on an error: input still in flight
 * when a process exits makes some engines (Podman 4.3) drop the process's output, error included.
 */
describe('failing while the caller still sends', () => {
  for (const args of [
    ['fs', 'write', '<root>', 'a/../b', '644', '0', '100'],
    ['fs', 'write', '<root>', 'missing/file', '644', '0', '100'],
    ['fs', 'tar-extract', '<root>', '../out', '1000', '10'],
  ]) {
    it(`${args.slice(0, 2).join(' ')} ${args[3]} prints its error, then waits for EOF before exiting`, async () => {
      const child = spawn(
        HELPER,
        args.map((a) => (a === '<root>' ? root : a)),
        { stdio: ['pipe', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      child.stdin.write(Buffer.alloc(4096, 1));
      // The error is already reported, yet the helper keeps reading what is sent.
      await new Promise((r) => setTimeout(r, 300));
      expect(stderr).toMatch(/"error":"(invalid_path|not_found)"/);
      expect(child.exitCode).toBeNull();
      child.stdin.write(Buffer.alloc(65536, 2));
      child.stdin.end();
      expect(await exited).toBe(2);
      expect(stderr.trim().split('\n')).toHaveLength(1);
    });
  }
});

/**
 * `run --linger-ms`: after the command exits, the helper keeps reading the control channel until it
 * is quiet (`--linger-quiet-ms`), ends, or the linger time is up, so a frame sent as the command
 * ends is not in flight when the helper exits. The tests use a quiet window far longer than their
 * send interval, so a loaded machine cannot make them flaky.
 */
describe('run --linger-ms', () => {
  function startRun(args: string[]) {
    const child = spawn(HELPER, ['run', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.on('error', () => {}); // EPIPE once the helper is gone
    let stdout = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, exited, stdout: () => stdout };
  }

  /** Writes a frame every 20 ms for `ms`; resolves to the number written. */
  async function sendFor(child: ReturnType<typeof spawn>, ms: number): Promise<number> {
    let sent = 0;
    for (const until = Date.now() + ms; Date.now() < until && child.exitCode === null; sent++) {
      child.stdin!.write(frame(0, 'late'));
      await sleep(20);
    }
    return sent;
  }

  it('reads frames sent after the command exited, then exits with its status once they stop', async () => {
    const run = startRun([
      '--linger-ms',
      '10000',
      '--linger-quiet-ms',
      '1500',
      '--',
      'sh',
      '-c',
      'echo done; exit 7',
    ]);
    try {
      expect(await sendFor(run.child, 600)).toBeGreaterThan(5);
      // Well past the command's exit, but frames kept coming.
      expect(run.stdout()).toBe('done\n');
      expect(run.child.exitCode).toBeNull();
      // Quiet now: it exits after the quiet window, with the command's status.
      expect(await run.exited).toBe(7);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('stops lingering at the limit even when the caller never pauses', async () => {
    const run = startRun(['--linger-ms', '300', '--linger-quiet-ms', '5000', '--', 'true']);
    try {
      await sendFor(run.child, 8000);
      // It exited while the caller was still sending.
      expect(run.child.exitCode).toBe(0);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('stops lingering at EOF of the control channel', async () => {
    // --background: a raw EOF before the command exited would otherwise kill it (137).
    const run = startRun([
      '--background',
      '--linger-ms',
      '10000',
      '--linger-quiet-ms',
      '5000',
      '--',
      'sh',
      '-c',
      'exit 3',
    ]);
    try {
      await sendFor(run.child, 300); // the command exits at once; the helper lingers meanwhile
      expect(run.child.exitCode).toBeNull();
      const ended = Date.now();
      run.child.stdin.end();
      expect(await run.exited).toBe(3);
      // Neither the quiet window nor the limit (both seconds away) ended it.
      expect(Date.now() - ended).toBeLessThan(3000);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('refuses values out of range', () => {
    for (const [flag, value] of [
      ['--linger-ms', '10001'],
      ['--linger-ms', '-1'],
      ['--linger-ms', 'soon'],
      ['--linger-ms', ''],
      ['--linger-quiet-ms', '0'],
      ['--linger-quiet-ms', '99999999999999999999'],
    ] as const) {
      expectError(helper(['run', flag, value, '--', 'true']), 'usage');
    }
  });
});
