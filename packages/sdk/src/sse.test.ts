import { describe, expect, it } from 'vitest';
import { readSse, SseParser, type SseMessage } from './sse.js';

const bytes = (text: string) => new TextEncoder().encode(text);

/** Feeds `text` in pieces cut at `cuts` (byte offsets) and collects every event. */
function parseInPieces(text: string, cuts: number[]): { events: SseMessage[]; parser: SseParser } {
  const parser = new SseParser();
  const all = bytes(text);
  const events: SseMessage[] = [];
  let start = 0;
  for (const cut of [...cuts, all.length]) {
    events.push(...parser.push(all.slice(start, cut)));
    start = cut;
  }
  return { events, parser };
}

function parseAll(text: string): SseMessage[] {
  return new SseParser().push(text);
}

describe('SseParser', () => {
  it('parses id, event and data, defaulting the type to message', () => {
    expect(parseAll('id: 7\nevent: workspace.running\ndata: {"a":1}\n\ndata: plain\n\n')).toEqual([
      { id: '7', event: 'workspace.running', data: '{"a":1}' },
      { id: '7', event: 'message', data: 'plain' },
    ]);
  });

  it('joins multi-line data with LF and keeps empty data lines', () => {
    expect(parseAll('data: one\ndata:two\ndata\ndata:  four\n\n')).toEqual([
      { id: '', event: 'message', data: 'one\ntwo\n\n four' },
    ]);
    expect(parseAll('data:\n\n')).toEqual([{ id: '', event: 'message', data: '' }]);
  });

  it('ignores comments, unknown fields and events without data, but takes their id', () => {
    const parser = new SseParser();
    expect(parser.push(': keepalive\n\nfoo: bar\nid: 3\n\n: another\n')).toEqual([]);
    expect(parser.lastEventId).toBe('3');
    expect(parser.push('data: x\n\n')).toEqual([{ id: '3', event: 'message', data: 'x' }]);
  });

  it('accepts CRLF and lone CR line ends', () => {
    expect(parseAll('id: 1\r\ndata: a\r\n\r\nid: 2\rdata: b\r\rdata: c\n\n')).toEqual([
      { id: '1', event: 'message', data: 'a' },
      { id: '2', event: 'message', data: 'b' },
      { id: '2', event: 'message', data: 'c' },
    ]);
  });

  it('gives the same events however the bytes are cut (mid-line, between CR and LF, mid-character)', () => {
    const text =
      'retry: 2000\r\nid: 0\r\n\r\n: keepalive\r\n\r\nid: 41\r\nevent: t\r\ndata: {"m":"ünï ✓"}\r\n\r\n';
    const whole = parseAll(text);
    expect(whole).toEqual([{ id: '41', event: 't', data: '{"m":"ünï ✓"}' }]);
    const length = bytes(text).length;
    for (let a = 0; a <= length; a++) {
      for (const b of [a, a + 1, a + 3, length]) {
        const { events, parser } = parseInPieces(
          text,
          [a, Math.min(b, length)].sort((x, y) => x - y),
        );
        expect(events, `cut at ${a}/${b}`).toEqual(whole);
        expect(parser.lastEventId).toBe('41');
        expect(parser.retry).toBe(2000);
      }
    }
  });

  it('does not count a CR-split blank line twice', () => {
    const parser = new SseParser();
    expect(parser.push('data: a\r')).toEqual([]);
    expect(parser.push('\n')).toEqual([]);
    expect(parser.push('\r\n')).toEqual([{ id: '', event: 'message', data: 'a' }]);
    expect(parser.push('data: b\r')).toEqual([]);
    expect(parser.push('\r')).toEqual([{ id: '', event: 'message', data: 'b' }]);
  });

  it('tracks the last id across events, resets it on an empty id, and ignores ids with NUL', () => {
    const parser = new SseParser();
    expect(parser.push('id: 5\ndata: a\n\ndata: b\n\n').map((e) => e.id)).toEqual(['5', '5']);
    expect(parser.push('id: bad\0\ndata: c\n\n')[0]?.id).toBe('5');
    expect(parser.push('id\ndata: d\n\n')[0]?.id).toBe('');
    expect(parser.lastEventId).toBe('');
  });

  it('only dispatches at a blank line: the event in progress is dropped at the end', () => {
    const parser = new SseParser();
    expect(parser.push('id: 9\ndata: half')).toEqual([]);
    parser.end();
    expect(parser.lastEventId).toBe('');
    expect(parser.push('data: next\n\n')).toEqual([{ id: '9', event: 'message', data: 'next' }]);
  });

  it('ignores a retry that is not a number and strips a leading byte order mark', () => {
    const parser = new SseParser();
    expect(parser.push('\uFEFFretry: soon\ndata: x\n\n')).toEqual([{ id: '', event: 'message', data: 'x' }]);
    expect(parser.retry).toBeUndefined();
  });
});

describe('readSse', () => {
  it('reads events from a byte stream and cancels it when the loop stops early', async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes('data: 1\n\nda'));
        controller.enqueue(bytes('ta: 2\n\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    const seen: string[] = [];
    for await (const event of readSse(body)) {
      seen.push(event.data);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual(['1', '2']);
    expect(cancelled).toBe(true);
  });
});
