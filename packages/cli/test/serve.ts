import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { stringify } from 'yaml';
import { removeLabeled, RUN_LABEL } from '../../server/test/harness.js';

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

/**
 * A `berth serve` child on a fresh data dir for one test file, labelled for cleanup: registers
 * beforeAll/afterAll and returns a synchronous runner of the real `berth` binary against it.
 */
export function servedBerth(prefix: string): {
  berth: (...args: string[]) => { code: number; stdout: string; stderr: string };
  readonly url: string;
  readonly dataDir: string;
} {
  const runId = `t-${prefix}-${randomUUID().slice(0, 8)}`;
  let dataDir = '';
  let url = '';
  let serve: ChildProcess | undefined;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), `berth-${prefix}-`));
    writeFileSync(join(dataDir, 'berth.yaml'), stringify({ engine: { labels: { [RUN_LABEL]: runId } } }));
    ({ child: serve, url } = await startServe(dataDir));
  });
  afterAll(async () => {
    try {
      if (serve) await stopServe(serve);
    } finally {
      await removeLabeled(runId);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
  return {
    berth: (...args) => {
      const res = spawnSync(BIN, ['--url', url, '--data-dir', dataDir, ...args], {
        env: { ...process.env, BERTH_TOKEN: '', BERTH_URL: '' },
        encoding: 'utf8',
        timeout: 120_000,
      });
      return { code: res.status ?? -1, stdout: res.stdout, stderr: res.stderr };
    },
    get url() {
      return url;
    },
    get dataDir() {
      return dataDir;
    },
  };
}
