import { describe, expect, it } from 'vitest';
import { appendSample, percent, sparkPaths } from './chart.js';

const at = (s: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

describe('resource chart', () => {
  it('keeps a rolling window of samples in time order, once each', () => {
    let history: { at: string; v: number }[] = [];
    for (const s of [0, 10, 5, 20]) history = appendSample(history, { at: at(s), v: s }, 12_000);
    expect(history.map((h) => h.v)).toEqual([10, 20]);
    history = appendSample(history, { at: at(20), v: 21 }, 12_000);
    expect(history.map((h) => h.v)).toEqual([10, 21]);
  });

  it('draws a line and the area under it, scaled to the span and the maximum, broken at gaps', () => {
    const o = { from: 0, to: 100, max: 50, width: 200, height: 40, gapMs: 30 };
    const joined = sparkPaths(
      [
        { t: 0, v: 0 },
        { t: 20, v: 25 },
        { t: 40, v: 80 },
      ],
      o,
    );
    expect(joined.line).toBe('M0 40 L40 20 L80 0');
    expect(joined.area).toBe('M0 40 L0 40 L40 20 L80 0 L80 40 Z');
    const broken = sparkPaths(
      [
        { t: 0, v: 50 },
        { t: 80, v: 0 },
        { t: 90, v: 0 },
        { t: 150, v: 10 },
      ],
      o,
    );
    // The lone first point becomes a short stroke; the point outside the span is left out.
    expect(broken.line).toBe('M0 0 L2 0 M160 40 L180 40');
    expect(sparkPaths([], o)).toEqual({ line: '', area: '' });
  });

  it('formats percentages', () => {
    expect(percent(0.04)).toBe('0.0%');
    expect(percent(12.34)).toBe('12.3%');
    expect(percent(150.4)).toBe('150%');
  });
});
