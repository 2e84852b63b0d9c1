import { describe, expect, it } from 'vitest';
import { toBytes } from './bytes.js';
import { BerthError } from './errors.js';
import { NdjsonParser, readNdjson } from './ndjson.js';

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

describe('NdjsonParser', () => {
  const text = '{"stream":"stdout","text":"héllo"}\n\n{"stream":"stderr","text":"€ 😀"}\r\n{"n":3}';
  const all = [{ stream: 'stdout', text: 'héllo' }, { stream: 'stderr', text: '€ 😀' }, { n: 3 }];

  it('yields every document however the bytes are split', () => {
    const bytes = toBytes(text);
    for (let size = 1; size <= bytes.length; size++) {
      const parser = new NdjsonParser();
      const out: unknown[] = [];
      for (let i = 0; i < bytes.length; i += size) out.push(...parser.push(bytes.subarray(i, i + size)));
      out.push(...parser.end());
      expect(out).toEqual(all);
    }
  });

  it('yields a document as soon as its newline arrives', () => {
    const parser = new NdjsonParser();
    expect(parser.push(toBytes('{"a":'))).toEqual([]);
    expect(parser.push(toBytes('1}\n{"b"'))).toEqual([{ a: 1 }]);
    expect(parser.push(toBytes(':2}'))).toEqual([]);
    expect(parser.end()).toEqual([{ b: 2 }]);
  });

  it('refuses a line that is not JSON with invalid_response', () => {
    const parser = new NdjsonParser();
    expect(() => parser.push(toBytes('<html>\n'))).toThrow(BerthError);
    try {
      new NdjsonParser().push(toBytes('nope\n'));
    } catch (err) {
      expect((err as BerthError).code).toBe('invalid_response');
    }
  });
});

describe('readNdjson', () => {
  it('reads a byte stream', async () => {
    const out: unknown[] = [];
    for await (const doc of readNdjson(streamOf([toBytes('{"a":1}\n{"a"'), toBytes(':2}\n')]))) out.push(doc);
    expect(out).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it('cancels the stream when the loop stops early', async () => {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(toBytes('{"a":1}\n{"a":2}\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const doc of readNdjson(stream)) {
      expect(doc).toEqual({ a: 1 });
      break;
    }
    expect(cancelled).toBe(true);
  });
});
