import { describe, expect, it } from 'vitest';
import { toBytes } from './bytes.js';
import { decodeMessage, decodeOutputFrame, defined, encodeMessage, encodeOutputFrame } from './frames.js';

describe('output frames', () => {
  it('round-trips stdout and stderr frames', () => {
    const data = new Uint8Array([0, 1, 2, 255]);
    const out = encodeOutputFrame('stdout', data);
    expect(out[0]).toBe(1);
    expect(decodeOutputFrame(out)).toEqual({ stream: 'stdout', data });
    const err = encodeOutputFrame('stderr', toBytes('x'));
    expect(err[0]).toBe(2);
    expect(decodeOutputFrame(err.buffer as ArrayBuffer)).toEqual({ stream: 'stderr', data: toBytes('x') });
  });

  it('ignores empty frames and unknown stream bytes', () => {
    expect(decodeOutputFrame(new Uint8Array(0))).toBeUndefined();
    expect(decodeOutputFrame(new Uint8Array([3, 65]))).toBeUndefined();
  });

  it('keeps an empty payload', () => {
    expect(decodeOutputFrame(new Uint8Array([2]))).toEqual({ stream: 'stderr', data: new Uint8Array(0) });
  });
});

describe('control messages', () => {
  it('encodes client messages as JSON', () => {
    expect(JSON.parse(encodeMessage({ type: 'signal', signal: 'SIGINT' }))).toEqual({
      type: 'signal',
      signal: 'SIGINT',
    });
    expect(encodeMessage({ type: 'resize', cols: 80, rows: 24 })).toBe(
      '{"type":"resize","cols":80,"rows":24}',
    );
  });

  it('decodes server messages and normalises their fields', () => {
    expect(decodeMessage('{"type":"exit","exitCode":3,"timedOut":true}')).toEqual({
      type: 'exit',
      exitCode: 3,
      timedOut: true,
    });
    expect(decodeMessage('{"type":"exit","exitCode":0}')).toEqual({
      type: 'exit',
      exitCode: 0,
      timedOut: false,
    });
    expect(decodeMessage('{"type":"error","code":"command_not_found","message":"no"}')).toEqual({
      type: 'error',
      code: 'command_not_found',
      message: 'no',
    });
    expect(decodeMessage('{"type":"error"}')).toMatchObject({ code: 'internal' });
    const started = decodeMessage('{"type":"started","command":{"id":"cmd_1"}}');
    expect(started).toMatchObject({ type: 'started', command: { id: 'cmd_1' } });
  });

  it('ignores what is not a known message', () => {
    for (const text of ['', 'nope', '[]', 'null', '{"x":1}', '{"type":"later"}']) {
      expect(decodeMessage(text)).toBeUndefined();
    }
  });

  it('drops undefined fields', () => {
    expect(defined({ a: 1, b: undefined, c: null })).toEqual({ a: 1, c: null });
  });
});
