import { describe, expect, it } from 'vitest';
import { formatCidr, overlaps, parseCidr, pickSubnet } from './cidr.js';

describe('cidr', () => {
  it('parses and normalises', () => {
    expect(formatCidr(parseCidr('10.213.7.9/16'))).toBe('10.213.0.0/16');
    expect(() => parseCidr('10.0.0.256/8')).toThrow();
    expect(() => parseCidr('fd00::/64')).toThrow();
  });

  it('detects overlap both ways', () => {
    expect(overlaps(parseCidr('10.0.0.0/8'), parseCidr('10.213.0.16/28'))).toBe(true);
    expect(overlaps(parseCidr('10.213.0.16/28'), parseCidr('10.213.0.32/28'))).toBe(false);
  });

  it('picks the first free slot from the start index, wrapping around', () => {
    const used = ['10.213.0.0/28', '10.213.0.16/28', '172.17.0.0/16', 'fd00::/64'];
    expect(pickSubnet('10.213.0.0/24', 28, used, 0)).toBe('10.213.0.32/28');
    expect(pickSubnet('10.213.0.0/24', 28, used, 15)).toBe('10.213.0.240/28');
    expect(pickSubnet('10.213.0.0/24', 28, ['10.213.0.240/28', ...used], 15)).toBe('10.213.0.32/28');
  });

  it('returns null when a wider network covers the pool', () => {
    expect(pickSubnet('10.213.0.0/24', 28, ['10.0.0.0/8'], 3)).toBeNull();
  });
});
