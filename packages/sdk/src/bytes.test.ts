import { describe, expect, it } from 'vitest';
import { CappedBytes, Utf8StreamDecoder, base64url, concatBytes, toBytes } from './bytes.js';
import { bytesToBase64 } from './commands.js';

describe('Utf8StreamDecoder', () => {
  it('holds back a character split across chunks until its last byte arrives', () => {
    const bytes = toBytes('a€b😀c'); // € is 3 bytes, 😀 is 4
    for (let cut = 0; cut <= bytes.length; cut++) {
      for (let cut2 = cut; cut2 <= bytes.length; cut2++) {
        const decoder = new Utf8StreamDecoder();
        const text =
          decoder.write(bytes.subarray(0, cut)) +
          decoder.write(bytes.subarray(cut, cut2)) +
          decoder.write(bytes.subarray(cut2)) +
          decoder.end();
        expect(text).toBe('a€b😀c');
      }
    }
  });

  it('never emits a replacement character for a partial sequence', () => {
    const decoder = new Utf8StreamDecoder();
    const euro = toBytes('€');
    expect(decoder.write(euro.subarray(0, 1))).toBe('');
    expect(decoder.write(euro.subarray(1, 2))).toBe('');
    expect(decoder.write(euro.subarray(2))).toBe('€');
    expect(decoder.write(euro.subarray(0, 2))).toBe('');
    expect(decoder.end()).toBe('\uFFFD');
  });
});

describe('CappedBytes', () => {
  it('keeps up to the capacity and says when it dropped something', () => {
    const capped = new CappedBytes(5);
    capped.push(toBytes('abc'));
    expect(capped.truncated).toBe(false);
    capped.push(toBytes('defg'));
    expect(capped.truncated).toBe(true);
    expect(capped.text()).toBe('abcde');
    capped.push(new Uint8Array(0));
    expect(capped.size).toBe(5);
  });

  it('copies chunks so a reused buffer cannot change what was kept', () => {
    const capped = new CappedBytes(10);
    const chunk = toBytes('xy');
    capped.push(chunk);
    chunk[0] = 0x7a;
    expect(capped.text()).toBe('xy');
  });

  it('keeps nothing with capacity 0 and decodes split characters whole', () => {
    const none = new CappedBytes(0);
    none.push(toBytes('a'));
    expect(none.truncated).toBe(true);
    expect(none.text()).toBe('');
    const split = new CappedBytes(100);
    const e = toBytes('é');
    split.push(e.subarray(0, 1));
    split.push(e.subarray(1));
    expect(split.text()).toBe('é');
  });
});

describe('base64', () => {
  it('base64url-encodes UTF-8 without padding', () => {
    expect(base64url('test-admin-token')).toBe(Buffer.from('test-admin-token').toString('base64url'));
    expect(base64url('ü?>~')).toBe(Buffer.from('ü?>~').toString('base64url'));
    expect(base64url('')).toBe('');
  });

  it('base64-encodes bytes, also large ones', () => {
    const bytes = new Uint8Array(200_000).map((_v, i) => (i * 7) % 256);
    expect(bytesToBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
  });

  it('concatenates', () => {
    expect(concatBytes([toBytes('ab'), toBytes(''), toBytes('c')])).toEqual(toBytes('abc'));
  });
});
