import { describe, expect, it } from 'vitest';
import { parseStrictJson, StrictJsonError } from './strict-json.js';

describe('parseStrictJson (B13)', () => {
  it('parses ordinary documents like JSON.parse', () => {
    const doc = { a: [1, { b: 'x,"y' }], c: { d: null, 'e"f': true } };
    expect(parseStrictJson(JSON.stringify(doc))).toEqual(doc);
  });

  it('rejects duplicate keys, also when written with escapes', () => {
    expect(() => parseStrictJson('{"name":"a","name":"b"}')).toThrow(/duplicate key "name"/);
    expect(() => parseStrictJson('{"name":"a","n\\u0061me":"b"}')).toThrow(StrictJsonError);
    expect(() => parseStrictJson('{"x":{"k":1,"k":2}}')).toThrow(/duplicate key "k"/);
  });

  it('allows the same key in sibling objects and strings equal to keys as values', () => {
    expect(parseStrictJson('[{"k":1},{"k":2}]')).toEqual([{ k: 1 }, { k: 2 }]);
    expect(parseStrictJson('{"k":"k","j":["k","k"]}')).toEqual({ k: 'k', j: ['k', 'k'] });
  });

  it('rejects nesting deeper than the limit without exhausting the stack', () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    expect(() => parseStrictJson(deep)).toThrow(/nesting deeper than 64/);
    expect(parseStrictJson('['.repeat(64) + ']'.repeat(64))).toBeInstanceOf(Array);
  });

  it('rejects trailing garbage and syntax errors', () => {
    expect(() => parseStrictJson('{"a":1} x')).toThrow(StrictJsonError);
    expect(() => parseStrictJson('{"a":1,}')).toThrow(StrictJsonError);
    expect(() => parseStrictJson('')).toThrow(StrictJsonError);
  });

  it('never quotes the input in its message (a body may carry a secret)', () => {
    for (const text of [
      '{"value": canary-secret-1}',
      '{"value": "canary-secret-1" x}',
      '{"value": canary-secret-1',
    ]) {
      let message = '';
      try {
        parseStrictJson(text);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).not.toBe('');
      expect(message).not.toMatch(/canary|secret/);
    }
  });
});
