import { describe, expect, it } from 'vitest';
import { CONFIG_PATH, DNS_LABEL } from './patterns.js';

describe('input patterns', () => {
  it('DNS labels refuse paths, options, homoglyphs and overlong names (B1)', () => {
    for (const ok of ['a', 'brave-otter', 'x1', 'a'.repeat(63)]) expect(DNS_LABEL.test(ok), ok).toBe(true);
    for (const bad of [
      '',
      '../../etc',
      'a/b',
      '-rf',
      'a-',
      'A',
      'a'.repeat(64),
      'a\u0000',
      'аpi',
      'a_b',
      'a.b',
    ]) {
      expect(DNS_LABEL.test(bad), JSON.stringify(bad)).toBe(false);
    }
  });

  it('config paths stay relative and inside /configs (B14)', () => {
    for (const ok of ['config.yaml', 'a/b/c.json', '.hidden', 'a/.b', 'x..y', 'a-b_c.d']) {
      expect(CONFIG_PATH.test(ok), ok).toBe(true);
    }
    for (const bad of [
      '',
      '/abs',
      '../x',
      'a/../b',
      'a/..',
      '..',
      '.',
      './x',
      'a/./b',
      'a//b',
      'a/',
      'a\\b',
      '%2e%2e%2f',
      'a\nb',
      'x'.repeat(256),
    ]) {
      expect(CONFIG_PATH.test(bad), JSON.stringify(bad)).toBe(false);
    }
  });
});
