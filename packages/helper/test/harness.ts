import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import tar, { type Header } from 'tar-stream';
import { expect } from 'vitest';

/**
 * Runs the compiled berth-helper directly on the host, in temp directories. Tests that need an
 * unprivileged caller run it as uid 1000 through setpriv when the suite runs as root.
 */

export const HELPER_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const HELPER = join(HELPER_DIR, 'dist', 'berth-helper');

/** Builds dist/berth-helper (make is a no-op when it is up to date; the build is atomic). */
export function buildHelper(): void {
  execFileSync('make', ['-s', '-C', HELPER_DIR], { stdio: ['ignore', 'ignore', 'inherit'] });
}

export const IS_ROOT = process.getuid?.() === 0;
export const USER_UID = 1000;

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

export interface RunOptions {
  stdin?: Buffer | string;
  /** Run as uid/gid 1000 (only possible, and only needed, when the suite runs as root). */
  asUser?: boolean;
  timeoutMs?: number;
}

function command(args: string[], asUser: boolean | undefined): [string, string[]] {
  if (asUser && IS_ROOT) {
    return ['setpriv', [`--reuid=${USER_UID}`, `--regid=${USER_UID}`, '--clear-groups', HELPER, ...args]];
  }
  return [HELPER, args];
}

/** Runs the helper to completion, synchronously. */
export function helper(args: string[], opts: RunOptions = {}): Result {
  const [cmd, argv] = command(args, opts.asUser);
  const r = spawnSync(cmd, argv, {
    input: opts.stdin ?? '',
    timeout: opts.timeoutMs ?? 30_000,
    maxBuffer: 256 * 1024 * 1024,
  });
  // EPIPE: the helper exited (e.g. refusing its arguments) before reading its stdin.
  if (r.error && !((r.error as NodeJS.ErrnoException).code === 'EPIPE' && r.status !== null)) throw r.error;
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

/** Runs the helper to completion without blocking the event loop (for concurrent runs). */
export function helperAsync(args: string[], opts: RunOptions = {}): Promise<Result> {
  const [cmd, argv] = command(args, opts.asUser);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {}); // the helper may exit before reading everything
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }),
    );
    child.stdin.end(opts.stdin ?? '');
  });
}

/** Asserts the contract's failure shape: exit 2, one JSON line on stderr with `code`. */
export function expectError(r: Result, code: string, opts: { allowStdout?: boolean } = {}): string {
  expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 2 });
  if (!opts.allowStdout) expect(r.stdout.length).toBe(0);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  const parsed = JSON.parse(lines[0] ?? '') as { error: string; message: string };
  expect(parsed.error).toBe(code);
  expect(typeof parsed.message).toBe('string');
  expect(r.stderr.endsWith('\n')).toBe(true);
  return parsed.message;
}

export function expectOk(r: Result): Buffer {
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  return r.stdout;
}

/** A temp directory every user can traverse (uid 1000 needs to reach roots inside it). */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-helper-'));
  chmodSync(dir, 0o755);
  return dir;
}

export const SECRET = 'TOP-SECRET-SENTINEL';

/**
 * A fresh temp dir holding `root` (where the helper works) and, beside it, `outside` with one
 * sentinel file that no helper call may ever read or change. Remove `base` afterwards.
 */
export function makeSandbox(): { base: string; root: string; outside: string } {
  const base = tempDir();
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  mkdirSync(root, { mode: 0o755 });
  mkdirSync(outside, { mode: 0o755 });
  writeFileSync(join(outside, 'sentinel'), SECRET);
  return { base, root, outside };
}

/** The sentinel beside the root is still alone and unchanged. */
export function expectSentinelIntact(outside: string): void {
  expect(readdirSync(outside)).toEqual(['sentinel']);
  expect(readFileSync(join(outside, 'sentinel'), 'utf8')).toBe(SECRET);
}

export function removeDir(dir: string): void {
  if (IS_ROOT) {
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  // Unprivileged: restore write permission on read-only directories first.
  spawnSync('chmod', ['-R', 'u+rwx', dir]);
  rmSync(dir, { recursive: true, force: true });
}

/** Hands a tree to uid 1000 (when root), so the helper can run as that user on it. */
export function giveToUser(path: string): void {
  if (IS_ROOT) execFileSync('chown', ['-R', `${USER_UID}:${USER_UID}`, path]);
}

export interface Entry {
  header: Header;
  data: Buffer;
}

/** Parses a tar with tar-stream (an independent implementation). */
export async function parseTar(archive: Buffer): Promise<Entry[]> {
  const extract = tar.extract();
  const entries: Entry[] = [];
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      entries.push({ header: entry.header, data: Buffer.concat(chunks) });
    }
  })();
  extract.end(archive);
  await done;
  return entries;
}

export type PackEntry = Partial<Header> & { name: string; content?: Buffer | string };

/** Builds a tar with tar-stream. */
export async function buildTar(entries: PackEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const { content, ...header } of entries) {
    pack.entry({ mtime: new Date(1_700_000_000_000), mode: 0o644, ...header }, content ?? '');
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A frame of the `run` control channel: type, 4-byte big-endian length, payload. */
export function frame(type: number, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Whether a process exists (a zombie counts as gone for our purposes: it no longer runs). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

export async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting for a condition');
    await sleep(10);
  }
}
