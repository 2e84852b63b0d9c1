import type { FileInfo, FileRoot } from '@berth/protocol';
import { renderKeyValues, renderTable } from './table.js';
import { formatBytes } from './units.js';

const TYPE_CHAR: Record<FileInfo['type'], string> = { file: '-', dir: 'd', symlink: 'l', other: '?' };

/** `ls -l` style mode: `drwxr-xr-x`. */
export function formatMode(type: FileInfo['type'], mode: number): string {
  let bits = '';
  for (let shift = 6; shift >= 0; shift -= 3) {
    const b = (mode >> shift) & 7;
    bits += `${b & 4 ? 'r' : '-'}${b & 2 ? 'w' : '-'}${b & 1 ? 'x' : '-'}`;
  }
  return `${TYPE_CHAR[type]}${bits}`;
}

/** The absolute path inside the workspace: `/workspace/a/b`, `/configs/x`. */
export function remotePath(root: FileRoot, path: string): string {
  return path === '' ? `/${root}` : `/${root}/${path}`;
}

/** A name as `ls -F` shows it: `dir/`, `link -> target`. */
function displayName(info: FileInfo, useFullPath: boolean): string {
  const name = useFullPath ? info.path : info.name;
  if (info.type === 'dir') return `${name}/`;
  if (info.type === 'symlink') return `${name} -> ${info.linkTarget ?? '?'}`;
  return name;
}

/** `berth files ls`: MODE SIZE MODIFIED NAME; paths relative to the root when listing deeper than 1. */
export function renderFileTable(items: readonly FileInfo[], useFullPath: boolean): string {
  if (items.length === 0) return '';
  return renderTable(
    ['MODE', 'SIZE', 'MODIFIED', 'NAME'],
    items.map((f) => [
      formatMode(f.type, f.mode),
      f.type === 'dir' ? '-' : formatBytes(f.size),
      f.modifiedAt.replace(/\.\d+Z$/, 'Z'),
      displayName(f, useFullPath),
    ]),
  );
}

/** `berth files stat`. */
export function renderFileInfo(info: FileInfo, root: FileRoot): string {
  const pairs: [string, string][] = [
    ['Path', remotePath(root, info.path)],
    ['Type', info.type],
    ['Size', `${info.size} (${formatBytes(info.size)})`],
    ['Mode', `${formatMode(info.type, info.mode)} (${info.mode.toString(8).padStart(4, '0')})`],
    ['Modified', info.modifiedAt],
  ];
  if (info.linkTarget !== undefined) pairs.push(['Target', info.linkTarget]);
  return renderKeyValues(pairs);
}
