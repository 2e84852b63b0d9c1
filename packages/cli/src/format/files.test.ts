import type { FileInfo } from '@berth/protocol';
import { describe, expect, it } from 'vitest';
import { formatMode, remotePath, renderFileInfo, renderFileTable } from './files.js';

const file = (over: Partial<FileInfo>): FileInfo => ({
  path: 'a.txt',
  name: 'a.txt',
  type: 'file',
  size: 1500,
  mode: 0o644,
  modifiedAt: '2024-05-01T12:00:00.123Z',
  ...over,
});

describe('file formatting', () => {
  it('renders modes as ls does', () => {
    expect(formatMode('dir', 0o755)).toBe('drwxr-xr-x');
    expect(formatMode('file', 0o640)).toBe('-rw-r-----');
    expect(formatMode('symlink', 0o777)).toBe('lrwxrwxrwx');
    expect(formatMode('other', 0)).toBe('?---------');
  });

  it('renders a listing with directories, links and sizes', () => {
    const table = renderFileTable(
      [
        file({}),
        file({ path: 'src', name: 'src', type: 'dir', mode: 0o755 }),
        file({ path: 'l', name: 'l', type: 'symlink', mode: 0o777, linkTarget: 'a.txt', size: 5 }),
      ],
      false,
    );
    expect(table.split('\n')).toEqual([
      'MODE        SIZE    MODIFIED              NAME',
      '-rw-r--r--  1.5 kB  2024-05-01T12:00:00Z  a.txt',
      'drwxr-xr-x  -       2024-05-01T12:00:00Z  src/',
      'lrwxrwxrwx  5 B     2024-05-01T12:00:00Z  l -> a.txt',
    ]);
    expect(renderFileTable([file({ path: 'src/deep.txt', name: 'deep.txt' })], true)).toContain(
      'src/deep.txt',
    );
    expect(renderFileTable([], false)).toBe('');
  });

  it('renders stat and absolute paths', () => {
    expect(remotePath('workspace', '')).toBe('/workspace');
    expect(remotePath('configs', 'x/y')).toBe('/configs/x/y');
    const text = renderFileInfo(file({ path: 'a.txt' }), 'workspace');
    expect(text).toContain('/workspace/a.txt');
    expect(text).toContain('-rw-r--r-- (0644)');
  });
});
