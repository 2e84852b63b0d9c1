import { describe, expect, it } from 'vitest';
import { UsageError } from '../../exit-codes.js';
import { contentsOf, renameTop, stripTop } from './cp.js';
import { formatLogLine } from './logs.js';
import { EXIT_TIMED_OUT, commandExitCode, resolveEnvFlags } from './shared.js';

describe('commandExitCode', () => {
  it.each([
    [{ exitCode: 0, timedOut: false }, 0],
    [{ exitCode: 3, timedOut: false }, 3],
    [{ exitCode: 130, timedOut: false }, 130],
    [{ exitCode: 137, timedOut: true }, EXIT_TIMED_OUT],
    [{ exitCode: -1, timedOut: false }, 1],
    [{ exitCode: 300, timedOut: false }, 1],
  ])('%j → %i', (result, code) => {
    expect(commandExitCode(result)).toBe(code);
  });
});

describe('resolveEnvFlags', () => {
  it('copies bare keys from the environment and refuses unset ones', () => {
    expect(resolveEnvFlags(undefined, {})).toBeUndefined();
    expect(
      resolveEnvFlags(
        [
          { key: 'A', value: '1' },
          { key: 'HOME', value: undefined },
        ],
        { HOME: '/h' },
      ),
    ).toEqual({
      A: '1',
      HOME: '/h',
    });
    expect(() => resolveEnvFlags([{ key: 'NOPE', value: undefined }], {})).toThrow(UsageError);
  });
});

describe('berth cp path helpers', () => {
  it('recognises a trailing /. as "the contents of"', () => {
    expect(contentsOf('dir/.')).toEqual({ path: 'dir', contents: true });
    expect(contentsOf('.')).toEqual({ path: '', contents: true });
    expect(contentsOf('/workspace/.')).toEqual({ path: '/workspace', contents: true });
    expect(contentsOf('/.')).toEqual({ path: '/', contents: true });
    expect(contentsOf('dir/')).toEqual({ path: 'dir/', contents: false });
    expect(contentsOf('a.b')).toEqual({ path: 'a.b', contents: false });
  });

  it('renames or strips the top entry of an archive', () => {
    const rename = renameTop('dest');
    expect(rename('src')).toBe('dest');
    expect(rename('src/a/b')).toBe('dest/a/b');
    expect(stripTop('src')).toBeNull();
    expect(stripTop('src/a/b')).toBe('a/b');
  });
});

describe('formatLogLine', () => {
  it('prefixes the time only when asked and present', () => {
    expect(formatLogLine({ stream: 'stdout', text: 'hi' }, false)).toBe('hi\n');
    expect(formatLogLine({ stream: 'stdout', text: 'hi', time: 'T' }, true)).toBe('T hi\n');
    expect(formatLogLine({ stream: 'stderr', text: 'x', time: 'T' }, false)).toBe('x\n');
  });
});
