import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** The real `berth` launcher, as a user runs it. */
export const BIN = join(import.meta.dirname, '../bin/berth');

/**
 * Starts `berth serve` on a free port with a generated admin token, as a user would, and resolves
 * with its stdout once it listens.
 */
export function startServe(dataDir: string): Promise<{ child: ChildProcess; output: string; url: string }> {
  const child = spawn(BIN, ['serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn'], {
    env: { ...process.env, BERTH_ADMIN_TOKEN: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`berth serve did not start: ${output}`)), 30_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const m = /listening on (http:\/\/[0-9.:]+)/.exec(output);
      if (m && /Admin token/.test(output)) {
        clearTimeout(timer);
        resolve({ child, output, url: m[1]! });
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => reject(new Error(`berth serve exited with ${code}: ${output}`)));
  });
}

/** SIGTERM, then its exit code (at once when it already exited). */
export async function stopServe(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}
