import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthError } from '@berth/sdk';
import tar from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkEntryName, extractTar, linkStaysInside } from './extract.js';
import { packPath } from './pack.js';

type Entry = Partial<tar.Header> & { name: string; body?: string | Buffer };

/** A tar archive built entry by entry, hostile ones included. */
async function archive(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of pack as AsyncIterable<Buffer>) chunks.push(chunk);
  })();
  for (const { body, ...header } of entries) {
    await new Promise<void>((resolve, reject) => {
      pack.entry(header, body ?? '', (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

async function* chunked(data: Buffer, size = 700): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) {
    await Promise.resolve();
    yield data.subarray(i, i + size);
  }
}

let root: string;
let dest: string;
let outside: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'berth-extract-'));
  dest = join(root, 'dest');
  outside = join(root, 'outside');
  mkdirSync(dest);
  mkdirSync(outside);
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

async function refused(entries: Entry[], why: RegExp): Promise<void> {
  const err = await extractTar(chunked(await archive(entries)), { dir: dest }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(BerthError);
  expect((err as BerthError).code).toBe('invalid_archive');
  expect((err as Error).message).toMatch(why);
}

describe('checkEntryName', () => {
  it('normalises harmless names', () => {
    expect(checkEntryName('./a/b/')).toBe('a/b');
    expect(checkEntryName('a//b/./c')).toBe('a/b/c');
    expect(checkEntryName('./')).toBe('');
  });
  it.each(['/etc/passwd', '../x', 'a/../../x', 'a/..', 'a\\..\\x', 'a\0b'])('refuses %j', (name) => {
    expect(() => checkEntryName(name)).toThrow(BerthError);
  });
});

describe('linkStaysInside', () => {
  it('resolves relative targets from the link directory', () => {
    expect(linkStaysInside('a/link', 'b')).toBe(true);
    expect(linkStaysInside('a/link', '../b')).toBe(true);
    expect(linkStaysInside('a/link', '../../b')).toBe(false);
    expect(linkStaysInside('link', '..')).toBe(false);
    expect(linkStaysInside('link', '/etc')).toBe(false);
    expect(linkStaysInside('link', '')).toBe(false);
    expect(linkStaysInside('a/b/link', '../../c/../d')).toBe(true);
    expect(linkStaysInside('top/link', '../top/x', 'top')).toBe(true);
    expect(linkStaysInside('top/link', '../other', 'top')).toBe(false);
    expect(linkStaysInside('top/link', '..', 'top')).toBe(false);
  });
});

describe('extractTar', () => {
  it('extracts files byte for byte, directories, links and modes', async () => {
    const binary = Buffer.from(Array.from({ length: 70_000 }, (_v, i) => (i * 31) % 256));
    const mtime = new Date('2024-01-02T03:04:05Z');
    const summary = await extractTar(
      chunked(
        await archive([
          { name: 'top/', type: 'directory', mode: 0o750, mtime },
          { name: 'top/bin.dat', type: 'file', mode: 0o4755, body: binary, mtime },
          { name: 'top/empty/', type: 'directory', mode: 0o755 },
          { name: 'top/sub/deep.txt', type: 'file', mode: 0o600, body: 'deep' },
          { name: 'top/link', type: 'symlink', linkname: 'sub/deep.txt' },
          { name: './top/up', type: 'symlink', linkname: '../top/bin.dat' },
        ]),
      ),
      { dir: dest },
    );
    expect(summary).toEqual({ entries: 6, bytes: binary.length + 4 });
    expect(readFileSync(join(dest, 'top/bin.dat')).equals(binary)).toBe(true);
    expect(statSync(join(dest, 'top/bin.dat')).mode & 0o7777).toBe(0o755); // setuid dropped
    expect(statSync(join(dest, 'top/bin.dat')).mtime.toISOString()).toBe(mtime.toISOString());
    expect(statSync(join(dest, 'top')).mode & 0o777).toBe(0o750);
    expect(statSync(join(dest, 'top/empty')).isDirectory()).toBe(true);
    expect(readFileSync(join(dest, 'top/sub/deep.txt'), 'utf8')).toBe('deep');
    expect(readlinkSync(join(dest, 'top/link'))).toBe('sub/deep.txt');
    expect(readFileSync(join(dest, 'top/link'), 'utf8')).toBe('deep');
  });

  it('maps names (rename the top entry) and skips what the map drops', async () => {
    await extractTar(
      chunked(
        await archive([
          { name: 'src/', type: 'directory' },
          { name: 'src/a.txt', type: 'file', body: 'a' },
          { name: 'other.txt', type: 'file', body: 'x' },
        ]),
      ),
      { dir: dest, mapName: (n) => (n === 'src' || n.startsWith('src/') ? `renamed${n.slice(3)}` : null) },
    );
    expect(readFileSync(join(dest, 'renamed/a.txt'), 'utf8')).toBe('a');
    expect(existsSync(join(dest, 'other.txt'))).toBe(false);
  });

  it('replaces an existing symlink instead of writing through it', async () => {
    writeFileSync(join(outside, 'victim'), 'original');
    symlinkSync(join(outside, 'victim'), join(dest, 'f'));
    await extractTar(chunked(await archive([{ name: 'f', type: 'file', body: 'new' }])), { dir: dest });
    expect(readFileSync(join(outside, 'victim'), 'utf8')).toBe('original');
    expect(lstatSync(join(dest, 'f')).isSymbolicLink()).toBe(false);
    expect(readFileSync(join(dest, 'f'), 'utf8')).toBe('new');
  });

  it('refuses absolute names and .. components', async () => {
    await refused([{ name: '/tmp/evil', type: 'file', body: 'x' }], /absolute/);
    await refused([{ name: '../evil', type: 'file', body: 'x' }], /\.\./);
    await refused([{ name: 'a/../../evil', type: 'file', body: 'x' }], /\.\./);
    expect(existsSync(join(root, 'evil'))).toBe(false);
  });

  it('refuses symlinks that leave the destination', async () => {
    await refused([{ name: 'l', type: 'symlink', linkname: '/etc/passwd' }], /leaves the destination/);
    await refused([{ name: 'l', type: 'symlink', linkname: '../outside' }], /leaves the destination/);
    await refused([{ name: 'a/l', type: 'symlink', linkname: '../../outside/x' }], /leaves the destination/);
    expect(existsSync(join(dest, 'l'))).toBe(false);
  });

  it('never writes through a symlink, even one inside the destination', async () => {
    // A symlink pointing inside is allowed, but a later entry may not use it as a directory.
    await refused(
      [
        { name: 'sub/', type: 'directory' },
        { name: 'alias', type: 'symlink', linkname: 'sub' },
        { name: 'alias/x', type: 'file', body: 'x' },
      ],
      /through a symlink/,
    );
    // A pre-existing symlink to the outside in the destination is not followed either.
    symlinkSync(outside, join(dest, 'out'));
    await refused([{ name: 'out/pwned', type: 'file', body: 'x' }], /through a symlink/);
    expect(existsSync(join(outside, 'pwned'))).toBe(false);
  });

  it('refuses hard links, devices and FIFOs', async () => {
    await refused([{ name: 'h', type: 'link', linkname: '/etc/passwd' }], /hard links/);
    await refused([{ name: 'dev', type: 'character-device', devmajor: 1, devminor: 3 }], /character-device/);
    await refused([{ name: 'blk', type: 'block-device', devmajor: 8, devminor: 0 }], /block-device/);
    await refused([{ name: 'fifo', type: 'fifo' }], /fifo/);
  });

  it('keeps entries and link targets within the renamed top directory', async () => {
    const entries: Entry[] = [
      { name: 'new/', type: 'directory' },
      { name: 'new/ok', type: 'symlink', linkname: '../new/a' },
    ];
    await extractTar(chunked(await archive(entries)), { dir: dest, within: 'new' });
    expect(readlinkSync(join(dest, 'new/ok'))).toBe('../new/a');
    const err = await extractTar(
      chunked(await archive([{ name: 'new/l', type: 'symlink', linkname: '../sibling' }])),
      { dir: dest, within: 'new' },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/leaves the destination/);
    const outsideErr = await extractTar(
      chunked(await archive([{ name: 'sibling', type: 'file', body: 'x' }])),
      {
        dir: dest,
        within: 'new',
      },
    ).catch((e: unknown) => e);
    expect((outsideErr as Error).message).toMatch(/outside the destination/);
    expect(existsSync(join(dest, 'sibling'))).toBe(false);
  });

  it('refuses a file over a directory and a directory over a file', async () => {
    mkdirSync(join(dest, 'd'));
    writeFileSync(join(dest, 'f'), 'x');
    await refused([{ name: 'd', type: 'file', body: 'x' }], /directory exists/);
    await refused([{ name: 'f', type: 'directory' }], /non-directory/);
    await refused([{ name: 'f/x', type: 'file', body: 'x' }], /not a directory/);
  });

  it('fails on a truncated archive', async () => {
    const full = await archive([{ name: 'big', type: 'file', body: Buffer.alloc(5000, 1) }]);
    const err = await extractTar(chunked(full.subarray(0, 2000)), { dir: dest }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
  });
});

describe('packPath', () => {
  it('round-trips a directory through pack and extract', async () => {
    const src = join(root, 'src');
    mkdirSync(join(src, 'nested/empty'), { recursive: true });
    const binary = Buffer.from(Array.from({ length: 100_000 }, (_v, i) => (i * 7 + 3) % 256));
    writeFileSync(join(src, 'nested/bin'), binary, { mode: 0o751 });
    writeFileSync(join(src, 'a.txt'), 'hello');
    symlinkSync('a.txt', join(src, 'link'));
    const stream = packPath(src, { name: 'copy' });
    await extractTar(stream, { dir: dest });
    expect(readFileSync(join(dest, 'copy/nested/bin')).equals(binary)).toBe(true);
    expect(statSync(join(dest, 'copy/nested/bin')).mode & 0o777).toBe(0o751);
    expect(statSync(join(dest, 'copy/nested/empty')).isDirectory()).toBe(true);
    expect(readlinkSync(join(dest, 'copy/link'))).toBe('a.txt');

    const contents = packPath(src, { name: '' });
    const flat = join(root, 'flat');
    mkdirSync(flat);
    await extractTar(contents, { dir: flat });
    expect(readFileSync(join(flat, 'a.txt'), 'utf8')).toBe('hello');
  });

  it('packs a single file under the given name', async () => {
    const file = join(root, 'one.bin');
    writeFileSync(file, Buffer.from([0, 1, 2]));
    await extractTar(packPath(file, { name: 'renamed.bin' }), { dir: dest });
    expect([...readFileSync(join(dest, 'renamed.bin'))]).toEqual([0, 1, 2]);
  });
});
