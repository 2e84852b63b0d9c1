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
 * is quiet (25 ms), ends, or the linger time is up, so a frame sent as the command ends is not in
 * flight when the helper exits.
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

  it('reads frames sent after the command exited, then exits with its status', async () => {
    const run = startRun(['--linger-ms', '1000', '--', 'sh', '-c', 'echo done; exit 7']);
    try {
      let stop = false;
      let sent = 0;
      const sender = (async () => {
        while (!stop) {
          run.child.stdin.write(frame(0, 'late'));
          sent++;
          await sleep(10);
        }
      })();
      await sleep(300); // well past the command's exit, but frames keep coming
      expect(run.child.exitCode).toBeNull();
      expect(run.stdout()).toBe('done\n');
      stop = true;
      await sender;
      expect(await run.exited).toBe(7);
      expect(sent).toBeGreaterThan(5);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('stops lingering at the limit even when the caller never pauses', async () => {
    const run = startRun(['--linger-ms', '100', '--', 'true']);
    try {
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && run.child.exitCode === null) {
        run.child.stdin.write(frame(0, 'x'));
        await sleep(5);
      }
      // It exited while the caller was still sending.
      expect(run.child.exitCode).not.toBeNull();
      expect(await run.exited).toBe(0);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('exits at EOF of the control channel', async () => {
    const run = startRun(['--linger-ms', '1000', '--', 'sh', '-c', 'exit 3']);
    try {
      run.child.stdin.write(frame(1));
      run.child.stdin.end();
      expect(await run.exited).toBe(3);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('refuses a value outside 0-1000', () => {
    for (const value of ['1001', '-1', 'soon', '']) {
      expectError(helper(['run', '--linger-ms', value, '--', 'true']), 'usage');
    }
  });
});
