import { realpathSync, statSync } from 'node:fs';
import { posix } from 'node:path';

/** Directories that are never mounted, nor anything below them. */
const DENIED_TREES = [
  '/etc',
  '/proc',
  '/sys',
  '/dev',
  '/boot',
  '/run',
  '/var/run',
  '/var/lib/docker',
  '/var/lib/containers',
  '/var/lib/containerd',
  '/usr',
  '/bin',
  '/sbin',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
];

/** Directories that are never mounted themselves (a project below them is fine). */
const DENIED_EXACT = ['/', '/home', '/root', '/var', '/var/lib', '/tmp', '/mnt', '/media', '/srv', '/opt'];

const under = (path: string, root: string): boolean =>
  path === root || path.startsWith(root === '/' ? '/' : `${root}/`);

/** Why a host path may not be mounted as /workspace, or null when its form is acceptable. Pure. */
export function hostPathProblem(
  path: string,
  options: { protectedRoots: string[]; allowedRoots: string[] },
): string | null {
  if (path.length === 0 || path.length > 4096) return 'must be 1-4096 characters';
  if (path.includes('\0')) return 'must not contain NUL';
  if (!path.startsWith('/')) return 'must be an absolute path';
  if (path.split('/').some((seg) => seg === '..' || seg === '.')) return 'must not contain . or .. segments';
  const normal = posix.normalize(path).replace(/\/+$/, '') || '/';
  if (normal !== path.replace(/\/+$/, '') || /\/\//.test(path))
    return 'must be written in normal form (no //)';
  if (normal.endsWith('.sock')) return 'must not be a socket';
  if (DENIED_EXACT.includes(normal))
    return `${normal} itself may not be mounted; choose a project directory below it`;
  const tree = DENIED_TREES.find((root) => under(normal, root));
  if (tree) return `${tree} and everything below it are system directories`;
  const own = options.protectedRoots.find((root) => under(normal, root) || under(root, normal));
  if (own) return `overlaps Berth's own data directory ${own}`;
  if (options.allowedRoots.length > 0 && !options.allowedRoots.some((root) => under(normal, root))) {
    return `must lie under one of the allowed roots: ${options.allowedRoots.join(', ')}`;
  }
  return null;
}

/**
 * Checks the path on the host: it must exist, be a directory, and contain no symlink (its real path
 * must equal it), so what is validated is what gets mounted.
 */
export function hostPathOnDiskProblem(path: string): string | null {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return 'does not exist on the Berth host';
  }
  if (real !== path.replace(/\/+$/, '')) return `goes through a symlink; use the real path ${real}`;
  if (!statSync(real).isDirectory()) return 'is not a directory';
  return null;
}
