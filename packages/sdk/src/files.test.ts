import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import { octalMode, resolveFilePath } from './files.js';
import { logsQuery } from './logs.js';

describe('resolveFilePath', () => {
  it('keeps relative paths on the given root (default workspace)', () => {
    expect(resolveFilePath('a/b.txt')).toEqual({ root: 'workspace', path: 'a/b.txt' });
    expect(resolveFilePath('x', 'configs')).toEqual({ root: 'configs', path: 'x' });
    expect(resolveFilePath('')).toEqual({ root: 'workspace', path: '' });
    expect(resolveFilePath('./a')).toEqual({ root: 'workspace', path: 'a' });
    expect(resolveFilePath('.')).toEqual({ root: 'workspace', path: '' });
  });

  it('maps absolute paths under /workspace and /configs to their root', () => {
    expect(resolveFilePath('/workspace')).toEqual({ root: 'workspace', path: '' });
    expect(resolveFilePath('/workspace/')).toEqual({ root: 'workspace', path: '' });
    expect(resolveFilePath('/workspace/src/a.ts')).toEqual({ root: 'workspace', path: 'src/a.ts' });
    expect(resolveFilePath('/configs/config.yaml')).toEqual({ root: 'configs', path: 'config.yaml' });
    expect(resolveFilePath('/configs/x', 'configs')).toEqual({ root: 'configs', path: 'x' });
  });

  it('refuses other absolute paths and a root that contradicts the path', () => {
    expect(() => resolveFilePath('/etc/passwd')).toThrow(ValidationError);
    expect(() => resolveFilePath('/workspaces/x')).toThrow(/outside the workspace/);
    expect(() => resolveFilePath('/configs/x', 'workspace')).toThrow(/root workspace/);
  });

  it('leaves `..` to the server, which refuses it with invalid_path', () => {
    expect(resolveFilePath('../x')).toEqual({ root: 'workspace', path: '../x' });
  });
});

describe('octalMode', () => {
  it('turns permission bits into octal text', () => {
    expect(octalMode(0o644)).toBe('644');
    expect(octalMode(0o7)).toBe('007');
    expect(octalMode('600')).toBe('600');
    expect(() => octalMode(-1)).toThrow(ValidationError);
    expect(() => octalMode(1.5)).toThrow(ValidationError);
  });
});

describe('logsQuery', () => {
  it('sends since as Unix seconds and follow only when asked', () => {
    expect(logsQuery({ tail: 5, timestamps: true, since: new Date(1_700_000_000_500) })).toEqual({
      tail: 5,
      timestamps: true,
      since: 1_700_000_000,
      follow: undefined,
    });
    expect(logsQuery({ follow: true, since: 12 })).toMatchObject({ follow: true, since: 12 });
  });
});
