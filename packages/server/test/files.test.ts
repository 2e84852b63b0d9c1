import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import type { CommandInfo, FileInfo, Workspace } from '@berth/protocol';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileInfoSchema } from '../src/api/schemas.js';
import { execIn, startBerth, type TestBerth } from './harness.js';

let berth: TestBerth;
let ws: Workspace;
let sentinelDir: string;
const SENTINEL = 'host sentinel: must never be read or written by Berth\n';

beforeAll(async () => {
  berth = await startBerth();
  ws = (
    await berth.api<Workspace>('POST', '/v1/workspaces', {
      body: { name: 'files', files: { 'config.yaml': 'a: 1\n' } },
    })
  ).body;
  expect(ws.status).toBe('running');
  sentinelDir = mkdtempSync(join(tmpdir(), 'berth-sentinel-'));
  writeFileSync(join(sentinelDir, 'secret'), SENTINEL);
});
afterAll(async () => {
  await berth.cleanup();
  rmSync(sentinelDir, { recursive: true, force: true });
});

const base = () => `/v1/workspaces/${ws.id}/files`;
const q = (params: Record<string, string>) => `?${new URLSearchParams(params).toString()}`;

async function put(path: string, data: Buffer | string, extra: Record<string, string> = {}) {
  return fetch(`${berth.url}${base()}/content${q({ path, ...extra })}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${berth.token}`, 'content-type': 'application/octet-stream' },
    body: data,
  });
}

async function get(path: string, extra: Record<string, string> = {}) {
  return fetch(`${berth.url}${base()}/content${q({ path, ...extra })}`, {
    headers: { authorization: `Bearer ${berth.token}` },
  });
}

function expectSentinelUntouched(): void {
  expect(readFileSync(join(sentinelDir, 'secret'), 'utf8')).toBe(SENTINEL);
}

async function tarOf(
  entries: { name: string; type?: tar.Header['type']; content?: string; linkname?: string; mode?: number }[],
) {
  const pack = tar.pack();
  for (const e of entries) {
    pack.entry(
      { name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: e.mode ?? 0o644 },
      e.content ?? '',
    );
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function uploadArchive(path: string, body: Buffer, contentType = 'application/x-tar') {
  return fetch(`${berth.url}${base()}/archive${q({ path })}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${berth.token}`, 'content-type': contentType },
    body,
  });
}

describe('files', () => {
  it('round-trips binary data byte for byte, creating parents, with mode', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const written = await put('deep/nested/blob.bin', data, { mode: '640' });
    expect(written.status).toBe(200);
    const info = FileInfoSchema.parse(await written.json());
    expect(info).toMatchObject({
      path: 'deep/nested/blob.bin',
      type: 'file',
      size: data.length,
      mode: 0o640,
    });
    const read = await get('deep/nested/blob.bin');
    expect(read.status).toBe(200);
    expect(Buffer.from(await read.arrayBuffer()).equals(data)).toBe(true);
    // Owned by the workspace user, as the agent would have made it.
    expect(
      (await execIn(ws.containerId!, ['stat', '-c', '%u %a', '/workspace/deep/nested/blob.bin'])).stdout,
    ).toBe('1000 640\n');
  });

  it('lists with depth, types, sizes and times; stats; mkdir, move and remove', async () => {
    await put('tree/a.txt', 'aaa');
    await put('tree/sub/b.txt', 'bb');
    await execIn(ws.containerId!, ['ln', '-s', 'a.txt', '/workspace/tree/link']);
    const one = await berth.api<{ items: FileInfo[] }>('GET', `${base()}${q({ path: 'tree' })}`);
    expect(one.body.items.map((i) => [i.path, i.type])).toEqual([
      ['tree/a.txt', 'file'],
      ['tree/link', 'symlink'],
      ['tree/sub', 'dir'],
    ]);
    const deep = await berth.api<{ items: FileInfo[] }>('GET', `${base()}${q({ path: 'tree', depth: '2' })}`);
    expect(deep.body.items.map((i) => i.path)).toContain('tree/sub/b.txt');
    expect(deep.body.items.find((i) => i.path === 'tree/link')?.linkTarget).toBe('a.txt');
    expect(Date.parse(deep.body.items[0]!.modifiedAt)).toBeGreaterThan(Date.now() - 600_000);

    const stat = await berth.api<FileInfo>(
      'GET',
      `${base()}/stat${q({ path: 'tree/link', follow: 'true' })}`,
    );
    expect(stat.body).toMatchObject({ type: 'file', size: 3 });

    expect((await berth.api('POST', `${base()}/mkdir`, { body: { path: 'made/here' } })).status).toBe(200);
    const moved = await berth.api<FileInfo>('POST', `${base()}/move`, {
      body: { from: 'tree/a.txt', to: 'made/here/a.txt' },
    });
    expect(moved.body.path).toBe('made/here/a.txt');
    const clash = await berth.api('POST', `${base()}/move`, {
      body: { from: 'tree/sub/b.txt', to: 'made/here/a.txt' },
    });
    expect(clash.status).toBe(409);
    expect((await berth.api('DELETE', `${base()}${q({ path: 'tree' })}`)).status).toBe(409);
    expect((await berth.api('DELETE', `${base()}${q({ path: 'tree', recursive: 'true' })}`)).status).toBe(
      204,
    );
    const gone = await berth.api('GET', `${base()}/stat${q({ path: 'tree' })}`);
    expect(gone.status).toBe(404);
    expect(gone.body).toMatchObject({ code: 'file_not_found' });
  });

  it('reaches /configs with root=configs', async () => {
    const res = await get('config.yaml', { root: 'configs' });
    expect(await res.text()).toBe('a: 1\n');
  });

  it('refuses traversal, absolute, encoded, NUL, overlong and control-character paths (B14)', async () => {
    const bad = [
      '../../etc/passwd',
      '/etc/passwd',
      'a/../../b',
      '..',
      'a/..',
      '../x',
      'x\u0000y',
      'a\nb',
      'a//b',
      'a'.repeat(5000),
      `${'b'.repeat(300)}/x`,
    ];
    for (const path of bad) {
      const res = await get(path);
      expect(res.status, JSON.stringify(path.slice(0, 30))).toBe(400);
      expect(((await res.json()) as { code: string }).code).toMatch(/invalid_path/);
    }
    // Percent-decoding happens once: %2e%2e%2f is a literal name, which does not exist.
    const literal = await fetch(`${berth.url}${base()}/content?path=%252e%252e%252fetc%252fpasswd`, {
      headers: { authorization: `Bearer ${berth.token}` },
    });
    expect(literal.status).toBe(404);
    const decoded = await fetch(`${berth.url}${base()}/content?path=%2e%2e%2fetc%2fpasswd`, {
      headers: { authorization: `Bearer ${berth.token}` },
    });
    expect(decoded.status).toBe(400);
  });

  it('never follows a symlink out of the root (B15)', async () => {
    const links = {
      'to-etc': '/etc/passwd',
      'to-root': '/proc/self/root',
      'to-environ': '/proc/1/environ',
      climb: '../../../etc',
      dangling: 'nothing-here',
    };
    for (const [name, target] of Object.entries(links)) {
      await execIn(ws.containerId!, ['ln', '-sfn', target, `/workspace/${name}`]);
    }
    await execIn(ws.containerId!, [
      'sh',
      '-c',
      'ln -sfn loop-b /workspace/loop-a && ln -sfn loop-a /workspace/loop-b',
    ]);
    for (const name of ['to-etc', 'to-root/etc/passwd', 'to-environ', 'climb/passwd']) {
      const res = await get(name);
      expect(res.status, name).toBe(400);
      expect(((await res.json()) as { code: string }).code, name).toBe('path_escapes_root');
    }
    expect((await get('dangling')).status).toBe(404);
    const loop = await get('loop-a');
    expect(loop.status).toBe(400);
    // Writing through an escaping link is refused too, and changes nothing outside.
    const write = await put('to-root/tmp/pwned', 'x');
    expect(write.status).toBe(400);
    expect(
      (await execIn(ws.containerId!, ['sh', '-c', 'test -e /tmp/pwned && echo yes || echo no'])).stdout,
    ).toBe('no\n');
    expectSentinelUntouched();
  });

  it('serves regular files only (B18)', async () => {
    await execIn(ws.containerId!, [
      'sh',
      '-c',
      'mkfifo /workspace/fifo; ln -sf /dev/zero /workspace/zero-link',
    ]);
    const fifo = await get('fifo');
    expect(fifo.status).toBe(400);
    expect(((await fifo.json()) as { code: string }).code).toBe('unsupported_file_type');
    expect((await get('zero-link')).status).toBe(400);
  });

  it('holds up while the agent swaps a symlink in a tight loop (E7, B15)', async () => {
    await execIn(ws.containerId!, [
      'sh',
      '-c',
      'mkdir -p /workspace/real && echo inside > /workspace/real/data',
    ]);
    const swapper = await berth.api<CommandInfo>('POST', `/v1/workspaces/${ws.id}/commands`, {
      body: { command: 'while :; do ln -sfn / /workspace/x; ln -sfn real /workspace/x; done' },
    });
    try {
      const outcomes = new Map<string, number>();
      for (let i = 0; i < 150; i++) {
        const [r, w] = await Promise.all([get('x/data'), put('x/out', `write-${i}`)]);
        const body = await r.text();
        const key = r.status === 200 ? `read:${body}` : `read:${r.status}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        await w.arrayBuffer();
      }
      // Every successful read saw the file inside the root; nothing else was ever served.
      for (const key of outcomes.keys()) expect(['read:inside\n', 'read:400', 'read:404']).toContain(key);
      // Nothing was written outside the root: not at the container's /out, never on the host.
      expect((await execIn(ws.containerId!, ['sh', '-c', 'ls /out 2>/dev/null || echo none'])).stdout).toBe(
        'none\n',
      );
      expectSentinelUntouched();
    } finally {
      await berth.api('POST', `/v1/workspaces/${ws.id}/commands/${swapper.body.id}/kill`);
    }
  });

  it('uploads and downloads archives, checking every entry first (B17)', async () => {
    const good = await tarOf([
      { name: 'proj/', type: 'directory', mode: 0o755 },
      { name: 'proj/readme.md', content: '# hi\n' },
      { name: 'proj/bin/run.sh', content: 'echo run\n', mode: 0o755 },
      { name: 'proj/link', type: 'symlink', linkname: 'readme.md' },
    ]);
    const up = await uploadArchive('up', good);
    expect(up.status).toBe(200);
    expect(await up.json()).toMatchObject({ entries: 4 });
    expect((await get('up/proj/bin/run.sh')).status).toBe(200);
    const gz = await uploadArchive('upgz', gzipSync(good), 'application/gzip');
    expect(gz.status).toBe(200);

    const down = await fetch(`${berth.url}${base()}/archive${q({ path: 'up/proj' })}`, {
      headers: { authorization: `Bearer ${berth.token}` },
    });
    expect(down.headers.get('content-type')).toMatch(/x-tar/);
    const names: string[] = [];
    const extract = tar.extract();
    extract.on('entry', (h, s, next) => {
      names.push(`${h.type}:${h.name.replace(/\/$/, '')}`);
      s.on('end', next);
      s.resume();
    });
    const bytes = Buffer.from(await down.arrayBuffer());
    await new Promise((resolve, reject) => {
      extract.on('finish', () => resolve(null));
      extract.on('error', reject);
      Readable.from([bytes]).pipe(extract);
    });
    expect(names.sort()).toEqual(
      [
        'directory:proj',
        'directory:proj/bin',
        'file:proj/bin/run.sh',
        'file:proj/readme.md',
        'symlink:proj/link',
      ].sort(),
    );

    const refused: [string, Buffer][] = [
      ['dotdot', await tarOf([{ name: '../x', content: 'x' }])],
      ['absolute', await tarOf([{ name: '/abs', content: 'x' }])],
      ['link out', await tarOf([{ name: 'l', type: 'symlink', linkname: '/etc' }])],
      ['link climbing', await tarOf([{ name: 'l', type: 'symlink', linkname: '../../..' }])],
      [
        'write through link',
        await tarOf([
          { name: 'l', type: 'symlink', linkname: '/tmp' },
          { name: 'l/x', content: 'x' },
        ]),
      ],
      [
        'hardlink',
        await tarOf([
          { name: 'f', content: 'x' },
          { name: 'h', type: 'link', linkname: '/etc/passwd' },
        ]),
      ],
      ['char device', await tarOf([{ name: 'd', type: 'character-device' }])],
      ['block device', await tarOf([{ name: 'd', type: 'block-device' }])],
      ['fifo', await tarOf([{ name: 'f', type: 'fifo' }])],
      ['setuid', await tarOf([{ name: 's', content: 'x', mode: 0o4755 }])],
      [
        'duplicate',
        await tarOf([
          { name: 'd', content: 'x' },
          { name: 'd', content: 'y' },
        ]),
      ],
      ['bomb', gzipSync(Buffer.alloc(64 * 1024 * 1024))],
      ['garbage', randomBytes(10_000)],
    ];
    for (const [what, body] of refused) {
      const res = await uploadArchive(
        `refused-${what.replace(/ /g, '-')}`,
        body,
        what === 'bomb' ? 'application/gzip' : 'application/x-tar',
      );
      expect(res.status, what).toBe(400);
      expect(((await res.json()) as { code: string }).code, what).toBe('invalid_archive');
      // Nothing of a refused archive was written.
      expect((await get(`refused-${what.replace(/ /g, '-')}`)).status, what).toBe(404);
    }
    expectSentinelUntouched();
  });

  it('caps sizes with a clear 413', async () => {
    await withSmallLimits(async (small, target) => {
      const big = await fetch(`${small.url}/v1/workspaces/${target.id}/files/content?path=big`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${small.token}`, 'content-type': 'application/octet-stream' },
        body: Buffer.alloc(2 * 1024 * 1024),
      });
      expect(big.status).toBe(413);
      expect(((await big.json()) as { code: string }).code).toBe('file_too_large');
      // Nothing was saved: not a truncated file, not a leftover temporary one.
      expect((await execIn(target.containerId!, ['ls', '-A', '/workspace'])).stdout).toBe('');
      await execIn(target.containerId!, ['sh', '-c', 'head -c 2000000 /dev/zero > /workspace/huge']);
      const read = await fetch(`${small.url}/v1/workspaces/${target.id}/files/content?path=huge`, {
        headers: { authorization: `Bearer ${small.token}` },
      });
      expect(read.status).toBe(413);
    });
  });

  it('works on a stopped workspace through a one-shot helper of Berth’s own image', async () => {
    const other = (await berth.api<Workspace>('POST', '/v1/workspaces', { body: { name: 'files-stopped' } }))
      .body;
    await put('x', 'y'); // on the running one, unrelated
    await berth.api('POST', `/v1/workspaces/${other.id}/stop`);
    const res = await fetch(
      `${berth.url}/v1/workspaces/${other.id}/files/content?path=written-while-stopped`,
      {
        method: 'PUT',
        headers: { authorization: `Bearer ${berth.token}`, 'content-type': 'application/octet-stream' },
        body: 'offline write',
      },
    );
    expect(res.status).toBe(200);
    const list = await berth.api<{ items: FileInfo[] }>('GET', `/v1/workspaces/${other.id}/files`);
    expect(list.body.items.map((i) => i.path)).toContain('written-while-stopped');
    await berth.api('POST', `/v1/workspaces/${other.id}/start`);
    expect((await execIn(other.containerId!, ['cat', '/workspace/written-while-stopped'])).stdout).toBe(
      'offline write',
    );
    // The one-shot helpers are gone: only the workspace containers remain.
    expect((await berth.leftovers()).containers).toHaveLength(2);
    expect(statSync(join(sentinelDir, 'secret')).size).toBe(SENTINEL.length);
  });
});

async function withSmallLimits(fn: (berth: TestBerth, ws: Workspace) => Promise<void>): Promise<void> {
  const small = await startBerth({
    config: { files: { maxReadBytes: 1024 * 1024, maxWriteBytes: 1024 * 1024 } },
  });
  try {
    const target = (await small.api<Workspace>('POST', '/v1/workspaces', { body: {} })).body;
    await fn(small, target);
  } finally {
    await small.cleanup();
  }
}
