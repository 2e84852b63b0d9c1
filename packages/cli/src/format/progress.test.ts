import { describe, expect, it } from 'vitest';
import { ProgressReporter, formatProgress } from './progress.js';

describe('formatProgress', () => {
  it('shows bytes with a percentage', () => {
    expect(
      formatProgress({
        phase: 'image',
        message: 'pulling node:22',
        current: 45_200_000,
        total: 120_000_000,
        unit: 'bytes',
      }),
    ).toBe('image: pulling node:22  45.2 MB / 120.0 MB (37%)');
  });
  it('shows steps', () => {
    expect(formatProgress({ phase: 'image', message: 'building', current: 3, total: 7, unit: 'steps' })).toBe(
      'image: building  step 3/7',
    );
  });
  it('shows a count without a total, and nothing without a count', () => {
    expect(formatProgress({ phase: 'image', message: 'pulling', current: 2000, unit: 'bytes' })).toBe(
      'image: pulling  2.0 kB',
    );
    expect(formatProgress({ phase: 'container', message: 'starting container' })).toBe(
      'container: starting container',
    );
  });
});

describe('ProgressReporter', () => {
  const sink = (isTTY: boolean) => {
    const chunks: string[] = [];
    return { chunks, isTTY, columns: 40, write: (s: string) => chunks.push(s) };
  };

  it('prints a plain line per phase/message change when not a terminal', () => {
    const out = sink(false);
    const r = new ProgressReporter(out);
    r.update({ phase: 'image', message: 'pulling', current: 1, total: 10, unit: 'bytes' });
    r.update({ phase: 'image', message: 'pulling', current: 5, total: 10, unit: 'bytes' });
    r.update({ phase: 'container', message: 'starting' });
    r.done();
    expect(out.chunks).toEqual(['image: pulling  1 B / 10 B (10%)\n', 'container: starting\n']);
  });

  it('rewrites one line on a terminal, truncated to the width, and clears it at the end', () => {
    const out = sink(true);
    const r = new ProgressReporter(out);
    r.update({ phase: 'image', message: 'pulling a-very-long-image-name:with-a-long-tag' });
    r.done();
    expect(out.chunks[0]?.startsWith('\r\x1b[2K')).toBe(true);
    expect(out.chunks[0]?.length).toBeLessThanOrEqual('\r\x1b[2K'.length + 39);
    expect(out.chunks.at(-1)).toBe('\r\x1b[2K');
  });
});
