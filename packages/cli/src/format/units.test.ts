import { describe, expect, it } from 'vitest';
import { formatAge, formatBytes } from './units.js';

describe('formatAge', () => {
  const now = new Date('2025-01-10T12:00:00Z');
  it.each([
    ['2025-01-10T11:59:55Z', '5s'],
    ['2025-01-10T11:55:00Z', '5m'],
    ['2025-01-10T09:00:00Z', '3h'],
    ['2025-01-08T12:00:00Z', '2d'],
    ['2025-01-10T12:00:10Z', '0s'],
    ['not a date', '-'],
  ])('%s -> %s', (iso, expected) => {
    expect(formatAge(iso, now)).toBe(expected);
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [999, '999 B'],
    [1500, '1.5 kB'],
    [45_200_000, '45.2 MB'],
    [3_000_000_000, '3.0 GB'],
  ])('%i -> %s', (n, expected) => {
    expect(formatBytes(n)).toBe(expected);
  });
});
