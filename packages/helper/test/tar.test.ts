import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  buildHelper,
  buildTar,
  expectError,
  expectSentinelIntact,
  expectOk,
  giveToUser,
  helper,
  IS_ROOT,
  makeSandbox,
  type PackEntry,
  parseTar,
  removeDir,
  SECRET,
  USER_UID,
} from './harness.js';

let base: string;
let root: string;
let outside: string;

beforeAll(buildHelper);
beforeEach(() => ({ base, root, outside } = makeSandbox()));
afterEach(() => removeDir(base));
const sentinelIntact = (): void => expectSentinelIntact(outside);

const create = (r: string, path: string, max = 1 << 30): Buffer =>
  expectOk(helper(['fs', 'tar-create', r, path, String(max)]));
const extract = (archive: Buffer, path = '', maxBytes = 1 << 30, maxEntries = 1000, r = root) =>
  helper(['fs', 'tar-extract', r, path, String(maxBytes), String(maxEntries)], { stdin: archive });

interface Node {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  mtime: number;
  content?: string;
  target?: string;
}

/** Everything observable about a tree (names may be any bytes: keys are their UTF-8 decoding). */
function snapshot(dir: string, withModes = true): Record<string, Node> {
  const out: Record<string, Node> = {};
  const walk = (abs: Buffer, rel: string): void => {
    for (const name of readdirSync(abs, { encoding: 'buffer' })) {
      const p = Buffer.concat([abs, Buffer.from('/'), name]);
      const r = rel ? `${rel}/${name.toString('utf8')}` : name.toString('utf8');
      const st = lstatSync(p);
      const node: Node = {
        type: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other',
        mode: withModes ? st.mode & 0o7777 : 0,
        mtime: Math.floor(st.mtimeMs / 1000),
      };
      if (st.isSymbolicLink()) node.mode = 0;
      if (st.isFile()) node.content = readFileSync(p).toString('base64');
      if (st.isSymbolicLink()) node.target = readlinkSync(p, { encoding: 'buffer' }).toString('utf8');
      out[r] = node;
      if (st.isDirectory()) walk(p, r);
    }
  };
  walk(Buffer.from(dir), '');
  return out;
}

const LONG_DIR = 'L'.repeat(200);
const LONG_FILE = 'n'.repeat(255);

/** A tree with everything tar has to get right. */
function buildTree(dir: string): void {
  const p = (...parts: string[]) => join(dir, ...parts);
  mkdirSync(p('nested', 'a', 'b', 'c'), { recursive: true });
  mkdirSync(p('empty-dir'), { mode: 0o700 });
  chmodSync(p('empty-dir'), 0o700);
  mkdirSync(p(LONG_DIR));
  mkdirSync(p('ro-dir'));
  const bin = Buffer.alloc(300_001);
  for (let i = 0; i < bin.length; i++) bin[i] = (i * 2654435761) >>> 24;
  writeFileSync(p('bin'), bin, { mode: 0o600 });
  chmodSync(p('bin'), 0o600);
  writeFileSync(p('empty-file'), '');
  writeFileSync(p('nested', 'a', 'b', 'c', 'deep.txt'), 'deep\n');
  writeFileSync(p(LONG_DIR, LONG_FILE), 'long name');
  writeFileSync(p('héllo wörld ☃.txt'), 'unicode');
  writeFileSync(p('sp ace'), ' ');
  writeFileSync(p('exec.sh'), '#!/bin/sh\n', { mode: 0o750 });
  chmodSync(p('exec.sh'), 0o750);
  writeFileSync(p('ro-dir', 'inside'), 'i');
  writeFileSync(Buffer.from([...Buffer.from(`${dir}/`), 0x66, 0xff, 0x66]), 'not utf-8');
  symlinkSync('nested/a/b/c/deep.txt', p('link'));
  symlinkSync(`${LONG_DIR}/${LONG_FILE}`, p('long-link')); // target > 100 bytes
  symlinkSync('nested', p('dir-link'));
  symlinkSync('missing', p('dangling'));
  // mtimes, children before parents (creating a child changes its parent's mtime)
  const entries = Object.keys(snapshot(dir)).sort((a, b) => b.split('/').length - a.split('/').length);
  entries.forEach((rel, i) => {
    const t = 1_500_000_000 + i * 1000;
    const target = Buffer.concat([Buffer.from(`${dir}/`), Buffer.from(rel)]);
    if (rel === 'f\ufffdf') return; // set below through its real bytes
    if (lstatSync(target).isSymbolicLink()) lutimesSync(target, t, t);
    else utimesSync(target, t, t);
  });
  utimesSync(Buffer.from([...Buffer.from(`${dir}/`), 0x66, 0xff, 0x66]), 1_400_000_000, 1_400_000_000);
  chmodSync(p('ro-dir'), 0o555);
  utimesSync(dir, 1_450_000_000, 1_450_000_000);
}

function expectWellFormed(archive: Buffer): void {
  expect(archive.length % 512).toBe(0);
  expect(archive.subarray(archive.length - 1024).every((b) => b === 0)).toBe(true);
}

const hasGnuTar = spawnSync('tar', ['--version']).stdout?.toString().includes('GNU tar') ?? false;

describe('tar round trips', () => {
  let src: string;
  beforeEach(() => {
    src = join(base, 'src');
    mkdirSync(join(src, 'top'), { recursive: true });
    buildTree(join(src, 'top'));
  });

  it('creates an archive that tar-stream reads back entry for entry', async () => {
    const archive = create(src, 'top');
    expectWellFormed(archive);
    const entries = await parseTar(archive);
    const expected = snapshot(join(src, 'top'));
    const seen: Record<string, Node> = {};
    for (const { header, data } of entries) {
      const name = header.name.replace(/\/$/, '');
      const type = header.type === 'file' ? 'file' : header.type === 'directory' ? 'dir' : 'symlink';
      const node: Node = {
        type,
        mode: type === 'symlink' ? 0 : (header.mode ?? 0) & 0o7777,
        mtime: Math.floor((header.mtime?.getTime() ?? 0) / 1000),
      };
      if (type === 'file') node.content = data.toString('base64');
      if (type === 'symlink') node.target = header.linkname ?? '';
      seen[name] = node;
      expect(header.uid).toBe(statSync(src).uid);
    }
    expect(seen.top).toMatchObject({ type: 'dir', mtime: 1_450_000_000 });
    delete seen.top;
    expect(seen).toEqual(Object.fromEntries(Object.entries(expected).map(([k, v]) => [`top/${k}`, v])));
    expect(Object.keys(seen)).toContain(`top/${LONG_DIR}/${LONG_FILE}`);
    expect(seen['top/long-link']?.target).toBe(`${LONG_DIR}/${LONG_FILE}`);
  });

  it('extracts its own archives back byte for byte (modes, mtimes, links, empty dirs)', () => {
    const archive = create(src, 'top');
    expectOk(extract(archive, 'restored/here'));
    expect(snapshot(join(root, 'restored', 'here', 'top'))).toEqual(snapshot(join(src, 'top')));
    expect(Math.floor(statSync(join(root, 'restored', 'here', 'top')).mtimeMs / 1000)).toBe(1_450_000_000);
    expect(statSync(join(root, 'restored')).mode & 0o777).toBe(0o755);
  });

  it('archives a single file under its basename', async () => {
    const archive = create(src, 'top/nested/a/b/c/deep.txt');
    const entries = await parseTar(archive);
    expect(entries.map((e) => [e.header.name, e.data.toString()])).toEqual([['deep.txt', 'deep\n']]);
  });

  it('names the root after its directory and follows a final symlink under the rules', async () => {
    const names = (await parseTar(create(join(src, 'top'), ''))).map((e) => e.header.name);
    expect(names).toContain('top/');
    expect(names).toContain('top/nested/a/b/c/deep.txt');
    const linked = (await parseTar(create(join(src, 'top'), 'dir-link'))).map((e) => e.header.name);
    expect(linked.sort()).toEqual([
      'dir-link/',
      'dir-link/a/',
      'dir-link/a/b/',
      'dir-link/a/b/c/',
      'dir-link/a/b/c/deep.txt',
    ]);
  });

  it.skipIf(!hasGnuTar)('produces archives GNU tar lists and extracts identically', () => {
    const archive = create(src, 'top');
    const listing = spawnSync('tar', ['-tvf', '-'], { input: archive });
    expect(listing.status).toBe(0);
    expect(listing.stderr.toString()).toBe('');
    expect(listing.stdout.toString()).toContain(`top/${LONG_DIR}/${LONG_FILE}`);
    const dest = join(base, 'gnu');
    mkdirSync(dest);
    const x = spawnSync('tar', ['-xf', '-', '-C', dest], { input: archive });
    expect(x.status).toBe(0);
    expect(snapshot(join(dest, 'top'), IS_ROOT)).toEqual(snapshot(join(src, 'top'), IS_ROOT));
  });

  it.skipIf(!hasGnuTar).each(['gnu', 'pax', 'oldgnu'])('extracts GNU tar --format=%s archives', (format) => {
    const made = spawnSync('tar', [`--format=${format}`, '-cf', '-', '-C', src, 'top']);
    expect(made.status).toBe(0);
    expectOk(extract(made.stdout));
    expect(snapshot(join(root, 'top'))).toEqual(snapshot(join(src, 'top')));
  });

  it('skips FIFOs and sockets, refuses them as the archived path, never follows symlinks', async () => {
    spawnSync('mkfifo', [join(src, 'top', 'fifo')]);
    symlinkSync(outside, join(src, 'top', 'out'));
    const entries = await parseTar(create(src, 'top'));
    expect(entries.map((e) => e.header.name)).not.toContain('top/fifo');
    expect(entries.find((e) => e.header.name === 'top/out')?.header).toMatchObject({
      type: 'symlink',
      linkname: outside,
    });
    expect(entries.some((e) => e.data.toString().includes(SECRET))).toBe(false);
    expectError(helper(['fs', 'tar-create', src, 'top/fifo', '100']), 'unsupported_type');
    expectError(helper(['fs', 'tar-create', src, 'top/out', '100']), 'escapes_root');
    expectError(helper(['fs', 'tar-create', src, 'missing', '100']), 'not_found');
  });

  it('keeps special permission bits, which tar-extract then refuses', async () => {
    chmodSync(join(src, 'top', 'empty-dir'), 0o1777);
    const archive = create(src, 'top');
    const entry = (await parseTar(archive)).find((e) => e.header.name === 'top/empty-dir/');
    expect((entry?.header.mode ?? 0) & 0o7777).toBe(0o1777);
    expectError(extract(archive), 'invalid_archive');
  });

  it('fails with too_large when the file content would exceed maxBytes', () => {
    const r = helper(['fs', 'tar-create', src, 'top', '300000']);
    expectError(r, 'too_large', { allowStdout: true });
    expectError(helper(['fs', 'tar-create', src, 'top/bin', '300000']), 'too_large');
    expectOk(helper(['fs', 'tar-create', src, 'top/bin', '300001']));
  });

  it.skipIf(!IS_ROOT)('keeps uid, gid and times that do not fit ustar (base-256 and PAX)', async () => {
    const f = join(src, 'top', 'bin');
    spawnSync('chown', ['3000000:2097152', f]);
    spawnSync('touch', ['-h', '-d', '@-100000', f]); // (Node's utimes turns negative times into now)
    const archive = create(src, 'top/bin');
    const [entry] = await parseTar(archive);
    expect(entry?.header).toMatchObject({ uid: 3_000_000, gid: 2_097_152 });
    const pax = archive.subarray(512, 1024).toString('latin1');
    expect(pax).toContain('uid=3000000\n');
    expect(pax).toContain('gid=2097152\n');
    expect(pax).toContain('mtime=-100000\n');
    expectOk(extract(archive));
    expect(statSync(join(root, 'bin')).mtimeMs).toBe(-100_000_000);
    if (hasGnuTar)
      expect(
        spawnSync('tar', ['-tvf', '-', '--numeric-owner'], { input: archive }).stdout.toString(),
      ).toContain('3000000/2097152');
  });
});

/* ---- hand-made archives ---- */

interface RawHeader {
  name: string;
  type?: string;
  size?: number;
  mode?: number;
  mtime?: number;
  linkname?: string;
  magic?: 'ustar' | 'gnu' | 'v7';
  sizeField?: Buffer;
}

function rawHeader(o: RawHeader): Buffer {
  const h = Buffer.alloc(512);
  h.write(o.name, 0, 100, 'utf8');
  h.write(`${(o.mode ?? 0o644).toString(8).padStart(7, '0')}\0`, 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  if (o.sizeField) o.sizeField.copy(h, 124);
  else h.write(`${(o.size ?? 0).toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write(`${(o.mtime ?? 1_700_000_000).toString(8).padStart(11, '0')}\0`, 136, 'latin1');
  h.write(o.type ?? '0', 156, 'latin1');
  if (o.linkname) h.write(o.linkname, 157, 100, 'utf8');
  if ((o.magic ?? 'ustar') === 'ustar') h.write('ustar\u000000', 257, 'latin1');
  if (o.magic === 'gnu') h.write('ustar  \0', 257, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

function block(content: Buffer | string): Buffer {
  const b = typeof content === 'string' ? Buffer.from(content) : content;
  return Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
}

function paxRecords(records: [string, string][]): Buffer {
  return Buffer.concat(
    records.map(([k, v]) => {
      const body = ` ${k}=${v}\n`;
      let len = Buffer.byteLength(body) + 1;
      while (String(len).length + Buffer.byteLength(body) !== len) len++;
      return Buffer.from(`${len}${body}`);
    }),
  );
}

const END = Buffer.alloc(1024);
const file = (name: string, content: string, extra: Partial<RawHeader> = {}): Buffer =>
  Buffer.concat([rawHeader({ name, size: Buffer.byteLength(content), ...extra }), block(content)]);

describe('tar-extract', () => {
  it('reads base-256 sizes, PAX overrides, global headers, GNU long names and ustar prefixes', async () => {
    const size256 = Buffer.alloc(12);
    size256[0] = 0x80;
    size256[11] = 5;
    const pax = paxRecords([
      ['path', `pax/${'p'.repeat(150)}`],
      ['size', '3'],
      ['mtime', '1234567890.75'],
      ['SCHILY.xattr.user.x', 'ignored'],
    ]);
    const globalPax = paxRecords([['comment', 'git commit id']]);
    const longName = `gnu/${'g'.repeat(200)}`;
    const longLink = `../${'k'.repeat(150)}`;
    const archive = Buffer.concat([
      rawHeader({ name: 'pax_global_header', type: 'g', size: globalPax.length }),
      block(globalPax),
      rawHeader({ name: 'b256', sizeField: size256 }),
      block('12345'),
      rawHeader({ name: 'ignored-name', type: 'x', size: pax.length }),
      block(pax),
      rawHeader({ name: 'short', size: 0 }),
      block('abc'),
      rawHeader({ name: '././@LongLink', type: 'L', size: longName.length + 1, magic: 'gnu' }),
      block(`${longName}\0`),
      rawHeader({ name: 'truncated-name', size: 2, magic: 'gnu' }),
      block('gg'),
      rawHeader({ name: '././@LongLink', type: 'K', size: longLink.length + 1, magic: 'gnu' }),
      block(`${longLink}\0`),
      rawHeader({ name: '././@LongLink', type: 'L', size: 12, magic: 'gnu' }),
      block('gnu/linkkk\0\0'),
      rawHeader({ name: 'x', type: '2', linkname: 'short', magic: 'gnu' }),
      rawHeader({ name: 'old-style-dir/', type: '0' }),
      END,
    ]);
    expectOk(extract(archive));
    expect(readFileSync(join(root, 'b256'), 'utf8')).toBe('12345');
    expect(readFileSync(join(root, 'pax', 'p'.repeat(150)), 'utf8')).toBe('abc');
    expect(statSync(join(root, 'pax', 'p'.repeat(150))).mtimeMs).toBe(1_234_567_890_000);
    expect(readFileSync(join(root, longName), 'utf8')).toBe('gg');
    expect(readlinkSync(join(root, 'gnu', 'linkkk'))).toBe(longLink);
    expect(statSync(join(root, 'old-style-dir')).isDirectory()).toBe(true);
    expect(readdirSync(root).sort()).toEqual(['b256', 'gnu', 'old-style-dir', 'pax']);

    const prefixed = `${'d'.repeat(90)}/${'f'.repeat(90)}`; // tar-stream splits this into prefix + name
    const viaPrefix = await buildTar([{ name: prefixed, content: 'prefix' }]);
    expect(viaPrefix.subarray(345, 355).toString()).toBe('dddddddddd');
    expectOk(extract(viaPrefix));
    expect(readFileSync(join(root, prefixed), 'utf8')).toBe('prefix');
  });

  it('replaces existing files and symlinks (never following them) and merges directories', async () => {
    mkdirSync(join(root, 'dir'));
    writeFileSync(join(root, 'dir', 'keep'), 'kept');
    writeFileSync(join(root, 'dir', 'file'), 'old');
    symlinkSync(join(outside, 'sentinel'), join(root, 'dir', 'abs'));
    symlinkSync('../../outside/sentinel', join(root, 'dir', 'rel'));
    symlinkSync(outside, join(root, 'was-link'));
    const archive = await buildTar([
      { name: 'dir', type: 'directory', mode: 0o750 },
      { name: 'dir/file', content: 'new' },
      { name: 'dir/abs', content: 'PWNED' },
      { name: 'dir/rel', content: 'PWNED' },
      { name: 'was-link', type: 'directory' },
      { name: 'was-link/sentinel', content: 'PWNED' },
    ]);
    expectOk(extract(archive));
    expect(readFileSync(join(root, 'dir', 'keep'), 'utf8')).toBe('kept');
    expect(readFileSync(join(root, 'dir', 'file'), 'utf8')).toBe('new');
    expect(lstatSync(join(root, 'dir', 'abs')).isFile()).toBe(true);
    expect(lstatSync(join(root, 'dir', 'rel')).isFile()).toBe(true);
    expect(lstatSync(join(root, 'was-link')).isDirectory()).toBe(true);
    expect(statSync(join(root, 'dir')).mode & 0o777).toBe(0o750);
    sentinelIntact();
    mkdirSync(join(root, 'd2'));
    expectError(extract(await buildTar([{ name: 'd2', content: 'x' }])), 'is_a_directory');
  });

  it('applies entry modes and mtimes, read-only directories last', async () => {
    const archive = await buildTar([
      { name: 'ro', type: 'directory', mode: 0o555, mtime: new Date(1_000_000_000_000) },
      { name: 'ro/f', content: 'x', mode: 0o400, mtime: new Date(1_100_000_000_000) },
      { name: 'ro/sub', type: 'directory', mode: 0o500 },
      { name: 'ro/sub/g', content: 'y', mode: 0o640 },
      { name: 'ex', content: '#!', mode: 0o755 },
    ]);
    expectOk(extract(archive, 'target'));
    const t = join(root, 'target');
    expect(statSync(join(t, 'ro')).mode & 0o7777).toBe(0o555);
    expect(statSync(join(t, 'ro')).mtimeMs).toBe(1_000_000_000_000);
    expect(statSync(join(t, 'ro', 'f')).mode & 0o7777).toBe(0o400);
    expect(statSync(join(t, 'ro', 'f')).mtimeMs).toBe(1_100_000_000_000);
    expect(statSync(join(t, 'ro', 'sub')).mode & 0o7777).toBe(0o500);
    expect(statSync(join(t, 'ro', 'sub', 'g')).mode & 0o7777).toBe(0o640);
    expect(statSync(join(t, 'ex')).mode & 0o7777).toBe(0o755);
  });

  it('refuses a target that is not a directory or escapes the root', () => {
    writeFileSync(join(root, 'file'), '');
    symlinkSync(outside, join(root, 'out'));
    expectError(extract(END, 'file'), 'not_a_directory');
    expectError(extract(END, 'out'), 'escapes_root');
    expectError(extract(END, 'out/x'), 'escapes_root');
    sentinelIntact();
  });

  it.skipIf(!IS_ROOT)(
    'extracts as the calling user: files belong to it whatever the archive says',
    async () => {
      mkdirSync(join(root, 'home'));
      giveToUser(join(root, 'home'));
      const archive = await buildTar([
        { name: 'f', content: 'x', uid: 0, gid: 0 },
        { name: 'd', type: 'directory', uid: 0, gid: 0 },
      ]);
      const r = helper(['fs', 'tar-extract', root, 'home', '100', '10'], { stdin: archive, asUser: true });
      expectOk(r);
      expect(statSync(join(root, 'home', 'f')).uid).toBe(USER_UID);
      expect(statSync(join(root, 'home', 'd')).uid).toBe(USER_UID);
      const denied = helper(['fs', 'tar-extract', root, '', '100', '10'], { stdin: archive, asUser: true });
      expectError(denied, 'permission_denied');
    },
  );
});

describe('tar-extract refuses hostile archives (B17)', () => {
  const good: PackEntry = { name: 'first', content: 'first' };
  const cases: [string, () => Buffer | Promise<Buffer>][] = [
    ['an absolute name', () => buildTar([good, { name: '/abs', content: 'x' }])],
    ['a .. component', () => buildTar([good, { name: '../x', content: 'x' }])],
    ['a .. component inside', () => buildTar([good, { name: 'a/../../x', content: 'x' }])],
    ['a trailing ..', () => buildTar([good, { name: 'a/..', type: 'directory' }])],
    ['an empty name', () => buildTar([good, { name: '', content: 'x' }])],
    ['a name that is only ./', () => buildTar([good, { name: './', type: 'directory' }])],
    ['a . component', () => buildTar([good, { name: 'a/./b', content: 'x' }])],
    ['an empty component', () => buildTar([good, { name: 'a//b', content: 'x' }])],
    ['a duplicate file', () => buildTar([good, { name: 'first', content: 'again' }])],
    ['a duplicate through ./', () => buildTar([good, { name: './first', content: 'again' }])],
    [
      'a duplicate directory',
      () => buildTar([good, { name: 'd/', type: 'directory' }, { name: 'd', type: 'directory' }]),
    ],
    ['a hard link', () => buildTar([good, { name: 'h', type: 'link', linkname: 'first' }])],
    [
      'a character device',
      () => buildTar([good, { name: 'c', type: 'character-device', devmajor: 1, devminor: 3 }]),
    ],
    ['a block device', () => buildTar([good, { name: 'b', type: 'block-device', devmajor: 8, devminor: 0 }])],
    ['a FIFO', () => buildTar([good, { name: 'p', type: 'fifo' }])],
    ['a setuid file', () => buildTar([good, { name: 's', content: '#!', mode: 0o4755 }])],
    ['a setgid directory', () => buildTar([good, { name: 'g', type: 'directory', mode: 0o2755 }])],
    ['a sticky directory', () => buildTar([good, { name: 't', type: 'directory', mode: 0o1777 }])],
    ['an absolute symlink', () => buildTar([good, { name: 'l', type: 'symlink', linkname: '/etc/passwd' }])],
    // extracted at x/y, two levels below the root
    [
      'a symlink leaving the root',
      () => buildTar([good, { name: 'l', type: 'symlink', linkname: '../../../outside' }]),
    ],
    [
      'a symlink climbing out and back',
      () => buildTar([good, { name: 'l', type: 'symlink', linkname: '../../../root/first' }]),
    ],
    [
      'a nested symlink leaving the root',
      () => buildTar([good, { name: 'a/b/l', type: 'symlink', linkname: '../../../../../outside/sentinel' }]),
    ],
    ['an empty symlink target', () => buildTar([good, { name: 'l', type: 'symlink', linkname: '' }])],
    [
      'a file written through its own symlink',
      () =>
        buildTar([
          good,
          { name: 'real', type: 'directory' },
          { name: 'l', type: 'symlink', linkname: 'real' },
          { name: 'l/x', content: 'through' },
        ]),
    ],
    [
      'a file written through a symlink to .',
      () => buildTar([good, { name: 'l', type: 'symlink', linkname: '.' }, { name: 'l/x', content: 'x' }]),
    ],
    ['more than maxEntries entries', () => buildTar([good, { name: 'b' }, { name: 'c' }, { name: 'd' }])],
    ['more than maxBytes of content', () => buildTar([good, { name: 'big', content: 'x'.repeat(100) }])],
    [
      'data in a directory entry',
      () => Buffer.concat([file('first', 'first'), file('d/', 'xx', { type: '5' }), END]),
    ],
    [
      'a bad checksum',
      async () => corrupt(await buildTar([good, { name: 'second', content: 'x' }]), 512 + 512 + 3),
    ],
    [
      'a header cut short',
      async () => (await buildTar([good, { name: 'second', content: 'x' }])).subarray(0, 1024 + 100),
    ],
    [
      'file data cut short',
      async () =>
        (await buildTar([good, { name: 'second', content: 'x'.repeat(600) }])).subarray(0, 1024 + 700),
    ],
    ['no end-of-archive blocks', () => Buffer.concat([file('first', 'first'), file('second', 'x')])],
    [
      'a lone zero block followed by data',
      () => Buffer.concat([file('first', 'first'), Buffer.alloc(512), file('x', 'x')]),
    ],
    ['a v7 header', () => Buffer.concat([file('first', 'first'), file('v7', 'x', { magic: 'v7' }), END])],
    [
      'a GNU sparse entry',
      () => Buffer.concat([file('first', 'first'), file('sparse', 'x', { type: 'S', magic: 'gnu' }), END]),
    ],
    [
      'an unknown entry type',
      () => Buffer.concat([file('first', 'first'), file('weird', 'x', { type: 'Z' }), END]),
    ],
    [
      'a PAX sparse record',
      () => {
        const pax = paxRecords([['GNU.sparse.major', '1']]);
        return Buffer.concat([
          file('first', 'first'),
          rawHeader({ name: 'p', type: 'x', size: pax.length }),
          block(pax),
          file('s', 'x'),
          END,
        ]);
      },
    ],
    [
      'a NUL byte in a PAX path',
      () => {
        const pax = paxRecords([['path', 'a\0b']]);
        return Buffer.concat([
          file('first', 'first'),
          rawHeader({ name: 'p', type: 'x', size: pax.length }),
          block(pax),
          file('s', 'x'),
          END,
        ]);
      },
    ],
    [
      'a malformed PAX record',
      () => {
        const pax = Buffer.from('99 path=x\n');
        return Buffer.concat([
          file('first', 'first'),
          rawHeader({ name: 'p', type: 'x', size: pax.length }),
          block(pax),
          file('s', 'x'),
          END,
        ]);
      },
    ],
    [
      'a PAX header without its entry',
      () => {
        const pax = paxRecords([['path', 'orphan']]);
        return Buffer.concat([
          file('first', 'first'),
          rawHeader({ name: 'p', type: 'x', size: pax.length }),
          block(pax),
          Buffer.alloc(512), // one zero block only: the test must not append an entry here
        ]);
      },
    ],
    ['an empty stream', () => Buffer.alloc(0)],
  ];

  function corrupt(b: Buffer, at: number): Buffer {
    const c = Buffer.from(b);
    c[at] = (c[at] ?? 0) ^ 0x55;
    return c;
  }

  it.each(cases)('refuses %s, stopping at the first bad entry', async (label, make) => {
    // Every archive gets a valid entry after the bad part: it must never be extracted.
    const made = await make();
    const ended = made.length >= 1024 && made.subarray(made.length - 1024).every((b) => b === 0);
    const archive = ended
      ? Buffer.concat([made.subarray(0, made.length - 1024), file('after', 'after'), END])
      : made;
    const r = extract(archive, 'x/y', 50, 3);
    expectError(r, 'invalid_archive');
    sentinelIntact();
    const target = join(root, 'x', 'y');
    if (label !== 'an empty stream') expect(readFileSync(join(target, 'first'), 'utf8')).toBe('first');
    const allowed = ['first', 'real', 'l', 'b', 'c', 'd', 'second'];
    expect(readdirSync(target).filter((n) => !allowed.includes(n))).toEqual([]);
    if (existsSync(join(target, 'l'))) expect(lstatSync(join(target, 'l')).isSymbolicLink()).toBe(true);
    expect(existsSync(join(target, 'real', 'x'))).toBe(false);
  });

  it('checks symlink targets against the root, not the extraction directory', async () => {
    const up2 = await buildTar([{ name: 'l', type: 'symlink', linkname: '../../sibling' }]);
    expectOk(extract(up2, 'a/b'));
    expect(readlinkSync(join(root, 'a', 'b', 'l'))).toBe('../../sibling');
    const up3 = await buildTar([{ name: 'l2', type: 'symlink', linkname: '../../../sibling' }]);
    expectError(extract(up3, 'a/b'), 'invalid_archive');
    const lexical = await buildTar([{ name: 'd/l', type: 'symlink', linkname: 'x/../../y' }]);
    expectOk(extract(lexical));
  });

  it('never writes through a symlink already in the workspace', async () => {
    mkdirSync(join(root, 'x'));
    symlinkSync(outside, join(root, 'x', 'abs'));
    symlinkSync('../../outside', join(root, 'x', 'rel'));
    symlinkSync('.', join(root, 'x', 'dot'));
    for (const name of ['abs/sentinel', 'rel/sentinel', 'abs/new', 'dot/f']) {
      const archive = await buildTar([{ name, content: 'PWNED' }]);
      expectError(extract(archive, 'x'), 'invalid_archive');
    }
    sentinelIntact();
    expect(readdirSync(join(root, 'x')).sort()).toEqual(['abs', 'dot', 'rel']);
  });

  it('counts every entry and every file byte against the caps', async () => {
    const three = await buildTar([{ name: 'a' }, { name: 'b' }, { name: 'c', type: 'directory' }]);
    expectOk(extract(three, 'ok', 0, 3));
    expectError(extract(three, 'no', 0, 2), 'invalid_archive');
    const bytes = await buildTar([
      { name: 'a', content: 'x'.repeat(60) },
      { name: 'b', content: 'y'.repeat(40) },
    ]);
    expectOk(extract(bytes, 'ok2', 100, 10));
    expectError(extract(bytes, 'no2', 99, 10), 'invalid_archive');
    expect(readFileSync(join(root, 'no2', 'a'), 'utf8')).toBe('x'.repeat(60));
    expect(existsSync(join(root, 'no2', 'b'))).toBe(false);
  });

  it('removes a file cut short by the end of the stream', async () => {
    const archive = await buildTar([{ name: 'big', content: 'z'.repeat(100_000) }]);
    expectError(extract(archive.subarray(0, 50_000)), 'invalid_archive');
    expect(existsSync(join(root, 'big'))).toBe(false);
  });
});
