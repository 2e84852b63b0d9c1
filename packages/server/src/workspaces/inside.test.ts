import { describe, expect, it } from 'vitest';
import { entryNameProblem, symlinkProblem } from './archive-check.js';
import { checkFilePath } from './files.js';
import { logLines } from './logs.js';
import { probeTarget } from './readiness.js';
import { OutputBuffer } from './stream-session.js';

describe('checkFilePath (B14)', () => {
  it('accepts relative paths and the root', () => {
    expect(checkFilePath('')).toBe('');
    expect(checkFilePath('.')).toBe('');
    expect(checkFilePath('a/b.txt')).toBe('a/b.txt');
    expect(checkFilePath('dir/')).toBe('dir');
    expect(checkFilePath('..hidden/x..y')).toBe('..hidden/x..y');
    expect(checkFilePath('%2e%2e%2f')).toBe('%2e%2e%2f'); // a literal name once decoded by HTTP
  });

  it('refuses traversal, absolute, empty parts, control characters and overlong paths', () => {
    for (const bad of [
      '../x',
      'a/../b',
      '..',
      '/etc/passwd',
      'a//b',
      './a',
      'a/./b',
      'x\u0000y',
      'a\nb',
      'a'.repeat(4097),
      `${'b'.repeat(256)}/c`,
    ]) {
      expect(() => checkFilePath(bad), JSON.stringify(bad.slice(0, 20))).toThrow(
        /invalid|must|longer|control/,
      );
    }
  });
});

describe('archive entry rules (B17)', () => {
  it('refuses names that leave the root or are not plain', () => {
    expect(entryNameProblem('a/b')).toBeNull();
    expect(entryNameProblem('./a/b/')).toBeNull();
    expect(entryNameProblem('../x')).toMatch(/\.\./);
    expect(entryNameProblem('a/../../x')).toMatch(/\.\./);
    expect(entryNameProblem('/abs')).toMatch(/absolute/);
    expect(entryNameProblem('')).toMatch(/empty/);
    expect(entryNameProblem('a//b')).toMatch(/empty/);
    expect(entryNameProblem('a\u0001b')).toMatch(/control/);
  });

  it('lets symlinks point only inside the extraction root', () => {
    expect(symlinkProblem('dir/link', 'target', 0)).toBeNull();
    expect(symlinkProblem('dir/link', '../sibling', 0)).toBeNull();
    expect(symlinkProblem('link', '../up', 0)).toMatch(/leaving/);
    expect(symlinkProblem('link', '../up', 1)).toBeNull(); // extracted one level below the root
    expect(symlinkProblem('link', '../../up', 1)).toMatch(/leaving/);
    expect(symlinkProblem('link', '/etc/passwd', 3)).toMatch(/absolute/);
    expect(symlinkProblem('link', '', 0)).toMatch(/empty/);
    // A name that looks like the way back in does not make it inside.
    expect(symlinkProblem('link', '../root/x', 0)).toMatch(/leaving/);
    expect(symlinkProblem('a/b/link', '../../../d0/x', 0)).toMatch(/leaving/);
  });
});

describe('logLines', () => {
  const frames = (...chunks: ['stdout' | 'stderr', string][]) =>
    (function* () {
      for (const [stream, text] of chunks) yield { stream, data: Buffer.from(text) };
    })();
  const collect = async (it: AsyncIterable<unknown>) => {
    const out: unknown[] = [];
    for await (const x of it) out.push(x);
    return out;
  };

  it('joins lines split across frames, keeps streams apart and in engine order', async () => {
    const lines = await collect(
      logLines(frames(['stdout', 'hel'], ['stderr', 'err1\n'], ['stdout', 'lo\nworld'], ['stdout', '\r\n']), {
        timestamps: false,
      }),
    );
    expect(lines).toEqual([
      { stream: 'stderr', text: 'err1' },
      { stream: 'stdout', text: 'hello' },
      { stream: 'stdout', text: 'world' },
    ]);
  });

  it('splits off engine timestamps and flushes a last line without a newline', async () => {
    const lines = await collect(
      logLines(frames(['stdout', '2026-11-23T10:00:00.123456789Z hi\n'], ['stderr', 'tail']), {
        timestamps: true,
      }),
    );
    expect(lines).toEqual([
      { stream: 'stdout', time: '2026-11-23T10:00:00.123456789Z', text: 'hi' },
      { stream: 'stderr', text: 'tail' },
    ]);
  });

  it('cuts pathological lines', async () => {
    const lines = (await collect(
      logLines(frames(['stdout', 'x'.repeat(25)]), { timestamps: false, maxLineBytes: 10 }),
    )) as { text: string }[];
    expect(lines.map((l) => l.text.length)).toEqual([10, 10, 5]);
  });
});

describe('probeTarget', () => {
  const endpoints = [
    {
      name: 'agent',
      containerPort: 8000,
      protocol: 'tcp' as const,
      hostIp: '127.0.0.1',
      hostPort: 32768,
      url: '',
    },
  ];
  it('probes the container address, not the loopback proxy that accepts everything', () => {
    expect(probeTarget(2, '10.213.0.2', endpoints)(8000)).toEqual({ host: '10.213.0.2', port: 8000 });
    expect(probeTarget(2, null, endpoints)(8000)).toEqual({ host: '127.0.0.1', port: 32768 });
    expect(probeTarget(2, null, endpoints)(9000)).toBeNull();
    expect(probeTarget(4, null, [])(9000)).toEqual({ host: '127.0.0.1', port: 9000 });
  });
});

describe('OutputBuffer', () => {
  it('keeps the newest output within its capacity, with gapless sequence numbers', () => {
    const buffer = new OutputBuffer(10);
    for (let i = 0; i < 5; i++) buffer.push({ stream: 'stdout', data: Buffer.from(`abc${i}`) });
    const kept = buffer.snapshot();
    expect(kept.map((c) => c.seq)).toEqual([3, 4]);
    expect(Buffer.concat(kept.map((c) => c.data)).toString()).toBe('abc3abc4');
  });
});
