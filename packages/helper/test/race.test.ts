import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildHelper, buildTar, helperAsync, removeDir, type Result, tempDir, waitFor } from './harness.js';

/**
 * E7(b)/B15: while another process swaps a symlink between a directory inside the root and
 * places outside it (absolute, `..`-climbing) as fast as it can, thousands of helper operations
 * go through that symlink. Files outside the root must stay untouched and never be read: the
 * sentinel's atime is older than its mtime, so on this relatime file system any read would move
 * it.
 */

const SECRET = 'TOP-SECRET-SENTINEL';
const OPS = 3000;
const CONCURRENCY = 8;

let base: string | undefined;
let swapper: ChildProcess | undefined;

beforeAll(buildHelper);
afterEach(() => {
  swapper?.kill('SIGKILL');
  swapper = undefined;
  if (base) removeDir(base);
  base = undefined;
});

const SWAPPER = `
const fs = require('node:fs');
const [x, tmp, ...targets] = process.argv.slice(1);
for (let i = 0; ; i++) {
  try {
    fs.symlinkSync(targets[i % targets.length], tmp);
    fs.renameSync(tmp, x); // atomic replacement: x always exists
  } catch {
    try { fs.unlinkSync(tmp); } catch {}
  }
}
`;

describe('a symlink swapped in a tight loop (E7, B15)', () => {
  it('never lets thousands of reads, writes and lists act outside the root', async () => {
    base = tempDir();
    const root = join(base, 'root');
    const outside = join(base, 'outside');
    // Names that exist on both sides: an implementation that checks through the link and then
    // uses the path again would act on the outside copy when the link flips in between.
    mkdirSync(join(root, 'real', 'sub'), { recursive: true });
    mkdirSync(join(root, 'real', 'dir'));
    mkdirSync(join(outside, 'dir'), { recursive: true });
    writeFileSync(join(outside, 'dir', 'keep'), 'keep');
    for (const name of ['file', 'sentinel', 'both']) writeFileSync(join(root, 'real', name), 'inside');
    writeFileSync(join(outside, 'sentinel'), SECRET);
    writeFileSync(join(outside, 'both'), 'outside');
    writeFileSync(join(outside, 'tar-both'), 'outside');
    writeFileSync(join(outside, 'victim'), 'victim');
    utimesSync(join(outside, 'sentinel'), 1_000_000_000, 1_500_000_000);
    const before = statSync(join(outside, 'sentinel'));

    const x = join(root, 'x');
    swapper = spawn(
      process.execPath,
      ['-e', SWAPPER, x, join(root, 'x.tmp'), 'real', outside, '../outside', 'real/../../outside'],
      { stdio: 'ignore' },
    );
    await waitFor(() => existsSync(x) || lstatSync(x, { throwIfNoEntry: false }) !== undefined);

    // (extraction replaces files by unlink + create, so it uses names the reads do not)
    const archive = await buildTar([
      { name: 'tar-both', content: 'inside' },
      { name: 'tar-dir/inner', content: 'inside' },
    ]);
    const inside = (r: Result) => onSuccess(r, () => expect(r.stdout.toString()).toBe('inside'));
    const ops: { args: string[]; stdin?: Buffer | string; check: (r: Result) => void }[] = [
      { args: ['fs', 'read', root, 'x/file', '100'], check: inside },
      { args: ['fs', 'read', root, 'x/sentinel', '100'], check: inside },
      { args: ['fs', 'read', root, 'x/both', '100'], check: inside },
      { args: ['fs', 'read', root, 'x/victim', '100'], check: mustFail },
      { args: ['fs', 'stat', root, 'x/victim', '--follow'], check: mustFail },
      { args: ['fs', 'stat', root, 'x', '--follow'], check: noSecrets },
      { args: ['fs', 'list', root, 'x', '3', '100'], check: noSecrets },
      { args: ['fs', 'write', root, 'x/sentinel', '644', '0', '100'], stdin: 'inside', check: noSecrets },
      { args: ['fs', 'write', root, 'x/both', '644', '0', '100'], stdin: 'inside', check: noSecrets },
      { args: ['fs', 'write', root, 'x/sub/new', '644', '1', '100'], stdin: 'inside', check: noSecrets },
      { args: ['fs', 'mkdir', root, 'x/dir', '755', '1'], check: noSecrets },
      { args: ['fs', 'remove', root, 'x/both', '0'], check: noSecrets },
      { args: ['fs', 'remove', root, 'x/dir', '1'], check: noSecrets },
      { args: ['fs', 'remove', root, 'x/victim', '0'], check: mustFail },
      { args: ['fs', 'move', root, 'x/both', 'x/both2', '1'], check: noSecrets },
      { args: ['fs', 'move', root, 'x/victim', 'stolen', '1'], check: mustFail },
      { args: ['fs', 'tar-create', root, 'x', '1000000'], check: noSecrets },
      { args: ['fs', 'tar-extract', root, 'x', '1000', '10'], stdin: archive, check: noSecrets },
    ];

    const outcomes = { ok: 0, escapes: 0 };
    let next = 0;
    const worker = async () => {
      while (next < OPS) {
        const op = ops[next++ % ops.length];
        if (!op) continue;
        const r = await helperAsync(op.args, op.stdin === undefined ? {} : { stdin: op.stdin });
        op.check(r);
        if (r.code === 0) outcomes.ok++;
        if (r.stderr.includes('"escapes_root"')) outcomes.escapes++;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    swapper.kill('SIGKILL');

    // Both states of the link were really hit.
    expect(outcomes.ok).toBeGreaterThan(OPS / 20);
    expect(outcomes.escapes).toBeGreaterThan(OPS / 20);
    // Outside: same names, same sentinel inode and times (atime first: reading it would move it).
    const after = statSync(join(outside, 'sentinel'));
    expect(after.atimeMs).toBe(before.atimeMs);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(after.ino).toBe(before.ino);
    expect(readdirSync(outside).sort()).toEqual(['both', 'dir', 'sentinel', 'tar-both', 'victim']);
    expect(readFileSync(join(outside, 'tar-both'), 'utf8')).toBe('outside');
    expect(readdirSync(join(outside, 'dir'))).toEqual(['keep']);
    expect(readFileSync(join(outside, 'victim'), 'utf8')).toBe('victim');
    expect(readFileSync(join(outside, 'both'), 'utf8')).toBe('outside');
    expect(readFileSync(join(outside, 'sentinel'), 'utf8')).toBe(SECRET);
    expect(existsSync(join(root, 'stolen'))).toBe(false);
  });
});

/** Either a clean success or the contract's failure shape, never a crash. */
function wellFormed(r: Result): void {
  if (r.code === 0) return;
  expect({ code: r.code, signal: r.signal }).toEqual({ code: 2, signal: null });
  const parsed = JSON.parse(r.stderr.trim()) as { error: string };
  expect(typeof parsed.error).toBe('string');
}

function noSecrets(r: Result): void {
  wellFormed(r);
  expect(r.stdout.includes(SECRET)).toBe(false);
  expect(r.stdout.includes('victim')).toBe(false);
}

function onSuccess(r: Result, check: () => void): void {
  noSecrets(r);
  if (r.code === 0) check();
}

function mustFail(r: Result): void {
  noSecrets(r);
  expect(r.code).toBe(2);
}
