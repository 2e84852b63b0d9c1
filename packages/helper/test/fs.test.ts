import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  buildHelper,
  expectError,
  expectSentinelIntact,
  expectOk,
  giveToUser,
  helper,
  HELPER,
  IS_ROOT,
  makeSandbox,
  removeDir,
  USER_UID,
} from './harness.js';

interface Info {
  path: string;
  name: string;
  type: string;
  size: number;
  mode: number;
  mtimeMs: number;
  linkTarget?: string;
}

let base: string;
let root: string;
let outside: string;

beforeAll(buildHelper);
beforeEach(() => ({ base, root, outside } = makeSandbox()));
afterEach(() => removeDir(base));
const sentinelIntact = (): void => expectSentinelIntact(outside);

const stat = (path: string, follow = false): Info => {
  const out = expectOk(helper(['fs', 'stat', root, path, ...(follow ? ['--follow'] : [])]));
  return JSON.parse(out.toString('utf8')) as Info;
};

const list = (path: string, depth: number, max: number): unknown[] =>
  expectOk(helper(['fs', 'list', root, path, String(depth), String(max)]))
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);

const names = (entries: unknown[]): string[] =>
  entries.map((e) => (e as { path?: string }).path ?? 'TRUNCATED');

describe('version and usage', () => {
  it('prints the version', () => {
    expect(expectOk(helper(['version'])).toString()).toMatch(/^berth-helper \d+\.\d+\.\d+\n$/);
  });

  it.each([
    [[]],
    [['nope']],
    [['fs']],
    [['fs', 'frobnicate', '/tmp', 'x']],
    [['fs', 'stat', '/tmp']],
    [['fs', 'stat', '/tmp', 'a', '--bogus']],
    [['fs', 'list', '/tmp', '', '0', '10']],
    [['fs', 'list', '/tmp', '', 'x', '10']],
    [['fs', 'list', '/tmp', '', '1', '-1']],
    [['fs', 'read', '/tmp', 'a', '99999999999999999999999']],
    [['fs', 'write', '/tmp', 'a', '9', '0', '10']],
    [['fs', 'write', '/tmp', 'a', 'rw', '0', '10']],
    [['fs', 'write', '/tmp', 'a', '644', 'yes', '10']],
    [['fs', 'mkdir', '/tmp', 'a', '755']],
    [['fs', 'move', '/tmp', 'a', 'b', '2']],
    [['fs', 'remove', '/tmp', 'a', 'true']],
    [['run']],
    [['run', '--']],
    [['run', 'ls']],
    [['run', '--tty', '--background', '--', 'ls']],
    [['run', '--pidfile']],
    [['kill']],
    [['kill', '--pidfile', '/x', '--signal', '0']],
    [['kill', '--pidfile', '/x', '--signal', '65']],
  ])('refuses %j with usage', (args) => {
    expectError(helper(args), 'usage');
  });
});

describe('path rules (B14)', () => {
  const bad = [
    '../x',
    '..',
    'a/../b',
    'a/..',
    '/etc/passwd',
    '/',
    'a//b',
    'a/',
    '//',
    'x'.repeat(256),
    `a/${'b'.repeat(256)}/c`,
    `${'a/'.repeat(2048)}b`, // 4097 bytes
  ];

  it.each(bad.map((p) => [p.length > 40 ? `${p.slice(0, 20)}…(${p.length} bytes)` : p, p]))(
    'refuses %j everywhere before touching anything',
    (_label, path) => {
      const cmds: string[][] = [
        ['fs', 'stat', root, path],
        ['fs', 'stat', root, path, '--follow'],
        ['fs', 'list', root, path, '1', '10'],
        ['fs', 'read', root, path, '100'],
        ['fs', 'write', root, path, '644', '1', '100'],
        ['fs', 'mkdir', root, path, '755', '1'],
        ['fs', 'move', root, path, 'x', '1'],
        ['fs', 'move', root, 'x', path, '1'],
        ['fs', 'remove', root, path, '1'],
        ['fs', 'tar-create', root, path, '100'],
        ['fs', 'tar-extract', root, path, '100', '10'],
      ];
      writeFileSync(join(root, 'x'), 'x');
      for (const cmd of cmds) expectError(helper(cmd, { stdin: 'data' }), 'invalid_path');
      expect(readdirSync(root)).toEqual(['x']);
      sentinelIntact();
    },
  );

  it('accepts a component of exactly 255 bytes and a path of exactly 4096 bytes', () => {
    const long = 'n'.repeat(255);
    expectOk(helper(['fs', 'write', root, long, '644', '0', '10'], { stdin: 'ok' }));
    expect(readFileSync(join(root, long), 'utf8')).toBe('ok');
    const deep = `${'a/'.repeat(2047)}bc`; // 4096 bytes
    expect(Buffer.byteLength(deep)).toBe(4096);
    expectError(helper(['fs', 'stat', root, deep]), 'not_found');
  });

  it('treats "", "." and "./" prefixes as the root, and skips "." components', () => {
    mkdirSync(join(root, 'a'));
    writeFileSync(join(root, 'a', 'b'), 'B');
    expect(stat('')).toMatchObject({ path: '', name: 'root', type: 'dir' });
    expect(stat('.')).toMatchObject({ path: '', type: 'dir' });
    expect(stat('./a/./b')).toMatchObject({ path: 'a/b', name: 'b', type: 'file' });
  });

  it('treats encoded traversal, backslashes and control characters as ordinary names', () => {
    for (const name of ['%2e%2e%2f', '..%00', '..\\', 'a\\..\\..\\b', 'new\nline', '...']) {
      expectError(helper(['fs', 'stat', root, name]), 'not_found');
      expectOk(helper(['fs', 'write', root, name, '644', '0', '10'], { stdin: 'in' }));
      expect(readFileSync(join(root, name), 'utf8')).toBe('in');
    }
    expect(stat('new\nline').name).toBe('new\nline');
    sentinelIntact();
  });

  it('requires an absolute, existing directory as root', () => {
    expectError(helper(['fs', 'stat', 'relative/root', '']), 'invalid_path');
    expectError(helper(['fs', 'stat', join(base, 'missing'), '']), 'not_found');
    writeFileSync(join(base, 'file'), '');
    expectError(helper(['fs', 'stat', join(base, 'file'), '']), 'not_a_directory');
  });
});

describe('symlinks (B15)', () => {
  beforeEach(() => {
    mkdirSync(join(root, 'dir'));
    writeFileSync(join(root, 'dir', 'file'), 'inside');
    symlinkSync(join(outside, 'sentinel'), join(root, 'abs-file'));
    symlinkSync(outside, join(root, 'abs-dir'));
    symlinkSync('/proc/self/root', join(root, 'magic'));
    symlinkSync('/etc/shadow', join(root, 'shadow'));
    symlinkSync('../outside/sentinel', join(root, 'climb-file'));
    symlinkSync('../outside', join(root, 'climb-dir'));
    symlinkSync('../../outside', join(root, 'dir', 'climb2'));
    symlinkSync('../dir/../../outside', join(root, 'dir', 'climb3'));
    symlinkSync('loop-b', join(root, 'loop-a'));
    symlinkSync('loop-a', join(root, 'loop-b'));
    symlinkSync('self', join(root, 'self'));
    symlinkSync('missing', join(root, 'dangling'));
    symlinkSync('dir/file', join(root, 'ok-file'));
    symlinkSync('dir', join(root, 'ok-dir'));
    symlinkSync('../dir/file', join(root, 'dir', 'ok-up'));
    symlinkSync('./x/../file', join(root, 'dir', 'lexical')); // lexically dir/file, x need not exist
  });

  const escapes = ['abs-file', 'abs-dir/sentinel', 'magic/etc/passwd', 'shadow', 'climb-file'];
  const escapes2 = ['climb-dir/sentinel', 'dir/climb2/sentinel', 'dir/climb3/sentinel'];

  it.each([...escapes, ...escapes2])('never follows %j out of the root', (path) => {
    expectError(helper(['fs', 'stat', root, path, '--follow']), 'escapes_root');
    expectError(helper(['fs', 'read', root, path, '1000']), 'escapes_root');
    expectError(helper(['fs', 'tar-create', root, path, '1000']), 'escapes_root');
    expectError(helper(['fs', 'list', root, path, '1', '10']), 'escapes_root');
    sentinelIntact();
  });

  it('refuses to go through an escaping symlink as an intermediate directory', () => {
    for (const cmd of [
      ['fs', 'write', root, 'abs-dir/new', '644', '0', '100'],
      ['fs', 'write', root, 'climb-dir/sentinel', '644', '0', '100'],
      ['fs', 'mkdir', root, 'abs-dir/new', '755', '0'],
      ['fs', 'remove', root, 'abs-dir/sentinel', '0'],
      ['fs', 'remove', root, 'climb-dir/sentinel', '0'],
      ['fs', 'move', root, 'dir/file', 'abs-dir/moved', '1'],
      ['fs', 'move', root, 'climb-dir/sentinel', 'stolen', '1'],
      ['fs', 'tar-extract', root, 'abs-dir', '100', '10'],
    ]) {
      expectError(helper(cmd, { stdin: 'PWNED' }), 'escapes_root');
    }
    sentinelIntact();
    expect(readFileSync(join(root, 'dir', 'file'), 'utf8')).toBe('inside');
  });

  it('reports loops and dangling links', () => {
    expectError(helper(['fs', 'stat', root, 'loop-a', '--follow']), 'loop');
    expectError(helper(['fs', 'read', root, 'self', '10']), 'loop');
    expectError(helper(['fs', 'list', root, 'loop-b/x', '1', '1']), 'loop');
    expectError(helper(['fs', 'stat', root, 'dangling', '--follow']), 'not_found');
    expectError(helper(['fs', 'read', root, 'dangling', '10']), 'not_found');
    // without --follow, a final symlink is reported as itself
    expect(stat('loop-a')).toMatchObject({ type: 'symlink', linkTarget: 'loop-b' });
    expect(stat('abs-file')).toMatchObject({ type: 'symlink', linkTarget: join(outside, 'sentinel') });
    expect(stat('dangling')).toMatchObject({ type: 'symlink', linkTarget: 'missing', size: 7 });
  });

  it('follows relative links that stay inside, resolved lexically', () => {
    expect(readFile('ok-file')).toBe('inside');
    expect(readFile('ok-dir/file')).toBe('inside');
    expect(readFile('dir/ok-up')).toBe('inside');
    expect(readFile('dir/lexical')).toBe('inside');
    expect(stat('ok-file', true)).toMatchObject({ path: 'ok-file', name: 'ok-file', type: 'file', size: 6 });
    expect(names(list('ok-dir', 1, 10))).toContain('ok-dir/file');
  });

  it('follows at most 40 links', () => {
    writeFileSync(join(root, 'target'), 'end');
    symlinkSync('target', join(root, 'l0'));
    for (let i = 1; i <= 40; i++) symlinkSync(`l${i - 1}`, join(root, `l${i}`));
    expect(readFile('l39')).toBe('end'); // 40 links
    expectError(helper(['fs', 'read', root, 'l40', '10']), 'loop'); // 41 links
  });

  const readFile = (path: string): string => expectOk(helper(['fs', 'read', root, path, '1000'])).toString();
});

describe('stat', () => {
  it('reports files, directories, symlinks and other types', () => {
    writeFileSync(join(root, 'f'), 'hello', { mode: 0o640 });
    chmodSync(join(root, 'f'), 0o640);
    utimesSync(join(root, 'f'), 1_600_000_000, 1_600_000_000.5);
    mkdirSync(join(root, 'd'), { mode: 0o750 });
    chmodSync(join(root, 'd'), 0o750);
    symlinkSync('f', join(root, 'l'));
    execFileSync('mkfifo', [join(root, 'fifo')]);
    expect(stat('f')).toEqual({
      path: 'f',
      name: 'f',
      type: 'file',
      size: 5,
      mode: 0o640,
      mtimeMs: 1_600_000_000_500,
    });
    expect(stat('d')).toMatchObject({ path: 'd', name: 'd', type: 'dir', mode: 0o750 });
    expect(stat('l')).toMatchObject({ type: 'symlink', linkTarget: 'f', size: 1 });
    expect(stat('l', true)).toMatchObject({ path: 'l', name: 'l', type: 'file', size: 5 });
    expect(stat('fifo')).toMatchObject({ type: 'other' });
    expect(stat('').mtimeMs).toBe(Math.floor(statSync(root).mtimeMs));
  });

  it('escapes names so the output is always valid JSON', () => {
    const raw = Buffer.concat([
      Buffer.from('q"b\\s\t\u0001é😀-'),
      Buffer.from([0xff, 0xc3, 0x28, 0xed, 0xa0, 0x80]),
    ]);
    writeFileSync(Buffer.concat([Buffer.from(root + '/'), raw]), 'x');
    const out = expectOk(helper(['fs', 'list', root, '', '1', '10'])).toString('utf8');
    expect(out).toContain('\\"');
    expect(out).toContain('\\\\');
    expect(out).toContain('\\t');
    expect(out).toContain('\\u0001');
    expect(out).toContain('\\u00ff\\u00c3(\\u00ed\\u00a0\\u0080');
    const entry = JSON.parse(out) as Info;
    expect(entry.name).toBe('q"b\\s\t\u0001é😀-\u00ff\u00c3(\u00ed\u00a0\u0080');
  });

  it('reports missing paths and non-directories on the way', () => {
    writeFileSync(join(root, 'f'), '');
    expectError(helper(['fs', 'stat', root, 'nope']), 'not_found');
    expectError(helper(['fs', 'stat', root, 'f/x']), 'not_a_directory');
  });
});

describe('list', () => {
  beforeEach(() => {
    for (const d of ['b', 'b/c', 'b/c/d', 'B', 'empty']) mkdirSync(join(root, d));
    for (const f of ['a', 'b/x', 'b/c/y', 'b/c/d/z', 'Z', '_', 'B/k']) writeFileSync(join(root, f), f);
    symlinkSync('b', join(root, 'link'));
    symlinkSync(outside, join(root, 'out'));
  });

  it('lists depth-first, directories before their contents, names sorted bytewise', () => {
    expect(names(list('', 10, 100))).toEqual([
      'B',
      'B/k',
      'Z',
      '_',
      'a',
      'b',
      'b/c',
      'b/c/d',
      'b/c/d/z',
      'b/c/y',
      'b/x',
      'empty',
      'link',
      'out',
    ]);
  });

  it('honours depth and never descends symlinks', () => {
    expect(names(list('', 1, 100))).toEqual(['B', 'Z', '_', 'a', 'b', 'empty', 'link', 'out']);
    expect(names(list('b', 2, 100))).toEqual(['b/c', 'b/c/d', 'b/c/y', 'b/x']);
    const entries = list('', 5, 100) as Info[];
    expect(entries.find((e) => e.path === 'out')).toMatchObject({ type: 'symlink', linkTarget: outside });
    expect(names(entries).some((n) => n.startsWith('out/') || n.startsWith('link/'))).toBe(false);
  });

  it('lists through a final symlink that stays inside', () => {
    expect(names(list('link', 1, 100))).toEqual(['link/c', 'link/x']);
  });

  it('stops after maxEntries with a truncated line', () => {
    expect(names(list('', 10, 3))).toEqual(['B', 'B/k', 'Z', 'TRUNCATED']);
    expect(list('', 10, 3).at(-1)).toEqual({ truncated: true });
    expect(names(list('', 10, 14))).toHaveLength(14); // exactly all: no truncated line
    expect(names(list('', 10, 13)).at(-1)).toBe('TRUNCATED');
    expect(list('', 1, 0)).toEqual([{ truncated: true }]);
    expect(list('empty', 1, 0)).toEqual([]);
  });

  it('keeps only what it may print in a large directory', () => {
    for (let i = 0; i < 3000; i++)
      writeFileSync(join(root, 'empty', `f${String(2999 - i).padStart(4, '0')}`), '');
    expect(names(list('empty', 1, 5))).toEqual([
      'empty/f0000',
      'empty/f0001',
      'empty/f0002',
      'empty/f0003',
      'empty/f0004',
      'TRUNCATED',
    ]);
    expect(list('empty', 1, 5000)).toHaveLength(3000);
  });

  it('refuses files and missing paths', () => {
    expectError(helper(['fs', 'list', root, 'a', '1', '10']), 'not_a_directory');
    expectError(helper(['fs', 'list', root, 'nope', '1', '10']), 'not_found');
  });
});

describe('read (B18)', () => {
  it('streams the bytes of a regular file', () => {
    const data = Buffer.alloc(300_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 256;
    writeFileSync(join(root, 'bin'), data);
    expect(expectOk(helper(['fs', 'read', root, 'bin', String(data.length)])).equals(data)).toBe(true);
    writeFileSync(join(root, 'empty'), '');
    expect(expectOk(helper(['fs', 'read', root, 'empty', '0']))).toHaveLength(0);
  });

  it('fails with io_error when its reader goes away', async () => {
    writeFileSync(join(root, 'big'), Buffer.alloc(8 * 1024 * 1024));
    const child = spawn(HELPER, ['fs', 'read', root, 'big', String(16 * 1024 * 1024)]);
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(2);
    expect(JSON.parse(stderr) as unknown).toMatchObject({ error: 'io_error' });
  });

  it('refuses a file over maxBytes before writing anything', () => {
    writeFileSync(join(root, 'big'), 'x'.repeat(1001));
    expectError(helper(['fs', 'read', root, 'big', '1000']), 'too_large');
  });

  it('reads only regular files: not directories, FIFOs, sockets or devices', async () => {
    mkdirSync(join(root, 'dir'));
    execFileSync('mkfifo', [join(root, 'fifo')]);
    expectError(helper(['fs', 'read', root, 'dir', '10']), 'is_a_directory');
    expectError(helper(['fs', 'read', root, 'fifo', '10'], { timeoutMs: 5000 }), 'unsupported_type');
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(join(root, 'sock'), resolve));
    try {
      expectError(helper(['fs', 'read', root, 'sock', '10']), 'unsupported_type');
    } finally {
      server.close();
    }
    symlinkSync('/dev/zero', join(root, 'zero'));
    expectError(helper(['fs', 'read', root, 'zero', '10']), 'escapes_root');
    if (IS_ROOT) {
      execFileSync('mknod', [join(root, 'null'), 'c', '1', '3']);
      expectError(helper(['fs', 'read', root, 'null', '10']), 'unsupported_type');
    }
  });

  it.skipIf(!IS_ROOT)('reports permission_denied for an unreadable file', () => {
    writeFileSync(join(root, 'private'), 'secret', { mode: 0o600 });
    expectError(helper(['fs', 'read', root, 'private', '100'], { asUser: true }), 'permission_denied');
  });
});

describe('write', () => {
  const write = (path: string, content: string | Buffer, mode = '644', parents = '0', max = '1000000') =>
    helper(['fs', 'write', root, path, mode, parents, max], { stdin: content });

  const tempLeftovers = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('.berth-tmp'));

  it('creates a file with exactly the given mode, whatever the umask', () => {
    expectOk(write('f', 'hello', '600'));
    expect(readFileSync(join(root, 'f'), 'utf8')).toBe('hello');
    expect(statSync(join(root, 'f')).mode & 0o7777).toBe(0o600);
    expectOk(write('g', '', '777'));
    expect(statSync(join(root, 'g')).mode & 0o7777).toBe(0o777);
    expect(statSync(join(root, 'g')).size).toBe(0);
    expect(tempLeftovers(root)).toEqual([]);
  });

  it('replaces an existing file atomically (new inode, new content)', () => {
    writeFileSync(join(root, 'f'), 'old content');
    const before = statSync(join(root, 'f')).ino;
    expectOk(write('f', 'new'));
    expect(readFileSync(join(root, 'f'), 'utf8')).toBe('new');
    expect(statSync(join(root, 'f')).ino).not.toBe(before);
  });

  it('replaces a symlink at the target instead of following it', () => {
    symlinkSync(join(outside, 'sentinel'), join(root, 'link'));
    symlinkSync('../outside/sentinel', join(root, 'rel'));
    expectOk(write('link', 'PWNED'));
    expectOk(write('rel', 'PWNED'));
    expect(lstatSync(join(root, 'link')).isFile()).toBe(true);
    expect(lstatSync(join(root, 'rel')).isFile()).toBe(true);
    sentinelIntact();
  });

  it('creates missing parents (0755) only when asked', () => {
    expectError(write('a/b/c', 'x'), 'not_found');
    expectOk(write('a/b/c', 'x', '644', '1'));
    expect(statSync(join(root, 'a')).mode & 0o7777).toBe(0o755);
    expect(statSync(join(root, 'a', 'b')).mode & 0o7777).toBe(0o755);
    expect(readFileSync(join(root, 'a', 'b', 'c'), 'utf8')).toBe('x');
  });

  it('refuses directories, the root, non-directories on the way and special mode bits', () => {
    mkdirSync(join(root, 'd'));
    writeFileSync(join(root, 'file'), '');
    expectError(write('d', 'x'), 'is_a_directory');
    expectError(write('', 'x'), 'is_a_directory');
    expectError(write('file/x', 'x', '644', '1'), 'not_a_directory');
    expectError(write('s', 'x', '4755'), 'invalid_path');
    expectError(write('s', 'x', '2755'), 'invalid_path');
    expectError(write('s', 'x', '1777'), 'invalid_path');
    expect(existsSync(join(root, 's'))).toBe(false);
  });

  it('fails with too_large over maxBytes, removing its temporary file and changing nothing', () => {
    writeFileSync(join(root, 'f'), 'original');
    expectError(write('f', 'y'.repeat(200_001), '644', '0', '200000'), 'too_large');
    expect(readFileSync(join(root, 'f'), 'utf8')).toBe('original');
    expectError(write('new', 'y'.repeat(11), '644', '0', '10'), 'too_large');
    expect(existsSync(join(root, 'new'))).toBe(false);
    expectOk(write('exact', 'y'.repeat(10), '644', '0', '10'));
    expect(tempLeftovers(root)).toEqual([]);
  });

  it.skipIf(!IS_ROOT)('writes as the calling user and reports permission_denied', () => {
    mkdirSync(join(root, 'mine'));
    mkdirSync(join(root, 'theirs'));
    giveToUser(join(root, 'mine'));
    const r = helper(['fs', 'write', root, 'mine/f', '644', '0', '100'], { stdin: 'x', asUser: true });
    expectOk(r);
    expect(statSync(join(root, 'mine', 'f')).uid).toBe(USER_UID);
    expectError(
      helper(['fs', 'write', root, 'theirs/f', '644', '0', '100'], { stdin: 'x', asUser: true }),
      'permission_denied',
    );
  });
});

describe('mkdir', () => {
  const mkdir = (path: string, mode = '755', parents = '0') =>
    helper(['fs', 'mkdir', root, path, mode, parents]);

  it('creates a directory with the exact mode', () => {
    expectOk(mkdir('d', '700'));
    expect(statSync(join(root, 'd')).mode & 0o7777).toBe(0o700);
  });

  it('handles existing paths like mkdir and mkdir -p', () => {
    mkdirSync(join(root, 'd'));
    writeFileSync(join(root, 'f'), '');
    symlinkSync('d', join(root, 'ld'));
    expectError(mkdir('d'), 'exists');
    expectError(mkdir(''), 'exists');
    expectOk(mkdir('d', '755', '1'));
    expectOk(mkdir('', '755', '1'));
    expectOk(mkdir('ld', '755', '1'));
    expectError(mkdir('f', '755', '1'), 'exists');
    expectError(mkdir('f'), 'exists');
  });

  it('creates parents only when asked', () => {
    expectError(mkdir('a/b/c'), 'not_found');
    expectOk(mkdir('a/b/c', '700', '1'));
    expect(statSync(join(root, 'a', 'b')).mode & 0o7777).toBe(0o755);
    expect(statSync(join(root, 'a', 'b', 'c')).mode & 0o7777).toBe(0o700);
  });

  it('refuses special mode bits', () => {
    expectError(mkdir('t', '1777'), 'invalid_path');
    expect(existsSync(join(root, 't'))).toBe(false);
  });
});

describe('move', () => {
  const move = (from: string, to: string, overwrite = '0') =>
    helper(['fs', 'move', root, from, to, overwrite]);

  beforeEach(() => {
    writeFileSync(join(root, 'a'), 'A');
    writeFileSync(join(root, 'b'), 'B');
    mkdirSync(join(root, 'd'));
    writeFileSync(join(root, 'd', 'inner'), 'I');
  });

  it('renames, refusing to replace unless overwrite is 1', () => {
    expectOk(move('a', 'c'));
    expect(readFileSync(join(root, 'c'), 'utf8')).toBe('A');
    expectError(move('c', 'b'), 'exists');
    expect(readFileSync(join(root, 'b'), 'utf8')).toBe('B');
    expectOk(move('c', 'b', '1'));
    expect(readFileSync(join(root, 'b'), 'utf8')).toBe('A');
    expect(existsSync(join(root, 'c'))).toBe(false);
    expectOk(move('d', 'd2'));
    expect(readFileSync(join(root, 'd2', 'inner'), 'utf8')).toBe('I');
  });

  it('never follows a final symlink on either side', () => {
    symlinkSync(outside, join(root, 'out'));
    symlinkSync('a', join(root, 'la'));
    expectOk(move('la', 'lb'));
    expect(readlinkSync(join(root, 'lb'))).toBe('a');
    expect(readFileSync(join(root, 'a'), 'utf8')).toBe('A');
    expectOk(move('b', 'out', '1')); // replaces the link itself
    expect(lstatSync(join(root, 'out')).isFile()).toBe(true);
    sentinelIntact();
  });

  it('refuses the root, a directory into itself, and missing sources', () => {
    expectError(move('', 'x'), 'invalid_path');
    expectError(move('a', ''), 'invalid_path');
    expectError(move('d', 'd/sub'), 'invalid_path');
    expectError(move('nope', 'x'), 'not_found');
    expectError(move('a', 'nope/x'), 'not_found');
    expectError(move('a', 'd', '1'), 'is_a_directory');
    expectError(move('d', 'a', '1'), 'not_a_directory');
  });
});

describe('remove', () => {
  const remove = (path: string, recursive = '0') => helper(['fs', 'remove', root, path, recursive]);

  it('removes files, symlinks (never their targets) and empty directories', () => {
    writeFileSync(join(root, 'f'), '');
    mkdirSync(join(root, 'e'));
    mkdirSync(join(root, 'd'));
    writeFileSync(join(root, 'd', 'keep'), 'k');
    symlinkSync(outside, join(root, 'out'));
    symlinkSync('d', join(root, 'ld'));
    expectOk(remove('f'));
    expectOk(remove('e'));
    expectOk(remove('out', '1'));
    expectOk(remove('ld', '1'));
    expect(readdirSync(root)).toEqual(['d']);
    expect(readFileSync(join(root, 'd', 'keep'), 'utf8')).toBe('k');
    sentinelIntact();
  });

  it('needs recursive for a non-empty directory and never follows symlinks inside it', () => {
    mkdirSync(join(root, 'd', 'sub', 'deeper'), { recursive: true });
    writeFileSync(join(root, 'd', 'sub', 'deeper', 'f'), '');
    writeFileSync(join(root, 'd', 'ro'), '', { mode: 0o400 });
    symlinkSync(outside, join(root, 'd', 'sub', 'out'));
    symlinkSync(join(outside, 'sentinel'), join(root, 'd', 'file-out'));
    expectError(remove('d'), 'not_empty');
    expectOk(remove('d', '1'));
    expect(readdirSync(root)).toEqual([]);
    sentinelIntact();
  });

  it('refuses the root and reports missing paths', () => {
    expectError(remove(''), 'invalid_path');
    expectError(remove('.', '1'), 'invalid_path');
    expectError(remove('nope'), 'not_found');
  });

  it.skipIf(!IS_ROOT)('reports permission_denied as an unprivileged user', () => {
    mkdirSync(join(root, 'theirs'));
    writeFileSync(join(root, 'theirs', 'f'), '');
    expectError(helper(['fs', 'remove', root, 'theirs/f', '0'], { asUser: true }), 'permission_denied');
    expect(existsSync(join(root, 'theirs', 'f'))).toBe(true);
  });
});
