import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, symlink, unlink, utimes } from 'node:fs/promises';
import { isAbsolute, join, posix, relative, sep } from 'node:path';
import { BerthError } from '@berth/sdk';
import tar from 'tar-stream';

export interface ExtractOptions {
  /** An existing directory: nothing is ever written outside it. */
  dir: string;
  /**
   * Maps a checked entry name (relative, no `.`/`..`/empty components, no trailing slash) to the
   * path to write under `dir`, or null to skip the entry. Default: the name itself.
   */
  mapName?: (name: string) => string | null;
  /**
   * A relative path under `dir` that every entry and every symlink target must stay within (e.g.
   * the new name of a copied directory); default `dir` itself.
   */
  within?: string;
}

export interface ExtractSummary {
  entries: number;
  bytes: number;
}

/** A refused archive entry. */
export function unsafeEntry(name: string, why: string): BerthError {
  return new BerthError({
    code: 'invalid_archive',
    message: `refusing archive entry ${JSON.stringify(name.slice(0, 200))}: ${why}`,
  });
}

/**
 * The relative path of an entry name: `./a/b/` → `a/b`. Refuses absolute names, `..`, NUL and
 * backslashes (never valid in what Berth produces); returns `''` for the archive's root itself.
 */
export function checkEntryName(raw: string): string {
  if (raw.includes('\0')) throw unsafeEntry(raw, 'the name contains NUL');
  if (raw.startsWith('/')) throw unsafeEntry(raw, 'absolute names are refused');
  if (raw.includes('\\')) throw unsafeEntry(raw, 'backslashes are refused');
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw unsafeEntry(raw, '".." components are refused');
  return parts.join('/');
}

/**
 * Whether a symlink at `linkPath` (relative to the extraction directory) pointing at `target`
 * stays inside the directory, resolved lexically from the link's own directory.
 */
export function linkStaysInside(linkPath: string, target: string, within = ''): boolean {
  if (target === '' || target.includes('\0') || posix.isAbsolute(target)) return false;
  const resolved = posix.normalize(posix.join(posix.dirname(linkPath), target));
  if (resolved === '..' || resolved.startsWith('../')) return false;
  return isWithin(resolved === '.' ? '' : resolved, within);
}

/** Whether a relative path is `within` or below it (`''`: anything relative). */
export function isWithin(rel: string, within: string): boolean {
  return within === '' || rel === within || rel.startsWith(`${within}/`);
}

/** Deferred directory metadata: set after the contents, so read-only directories do not block writes. */
interface DirMeta {
  path: string;
  mode: number;
  mtime: Date | undefined;
}

/**
 * Extracts a tar safely under `options.dir` (what `berth cp ws:path local` receives): refuses
 * absolute names, `..`, hard links, devices, FIFOs and symlinks whose target leaves the directory;
 * never writes through a symlink (every parent directory is checked with lstat; existing symlinks
 * are replaced, never followed); keeps only permission bits (no setuid, setgid, sticky). Stops at
 * the first refused entry; entries before it stay written.
 */
export async function extractTar(
  source: AsyncIterable<Uint8Array>,
  options: ExtractOptions,
): Promise<ExtractSummary> {
  const extract = tar.extract();
  let feedError: Error | undefined;
  let stopFeeding = false;
  const feeding = (async () => {
    try {
      for await (const chunk of source) {
        if (stopFeeding) break;
        if (!extract.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))) {
          await new Promise<void>((resolve) => {
            extract.once('drain', () => resolve());
            extract.once('close', () => resolve());
          });
        }
      }
      extract.end(undefined);
    } catch (err) {
      feedError = err instanceof Error ? err : new Error('reading the archive failed', { cause: err });
      extract.destroy(feedError);
    }
  })();

  const summary: ExtractSummary = { entries: 0, bytes: 0 };
  const dirs: DirMeta[] = [];
  try {
    for await (const entry of extract) {
      const { header } = entry;
      const name = checkEntryName(header.name);
      const mapped = name === '' ? null : (options.mapName ?? ((n: string) => n))(name);
      if (mapped === null || mapped === '') {
        entry.resume();
        continue;
      }
      const rel = checkEntryName(mapped);
      const within = options.within === undefined ? '' : checkEntryName(options.within);
      if (!isWithin(rel, within))
        throw unsafeEntry(header.name, 'it would be written outside the destination');
      const target = join(options.dir, ...rel.split('/'));
      const back = relative(options.dir, target);
      if (back === '' || back.startsWith(`..${sep}`) || back === '..' || isAbsolute(back)) {
        throw unsafeEntry(header.name, 'it would be written outside the destination');
      }
      await ensureParents(options.dir, rel, header.name);
      const mode = (header.mode ?? 0o644) & 0o777;
      switch (header.type) {
        case 'directory': {
          const existing = await lstatOrNull(target);
          if (existing === null) await mkdir(target, { mode: 0o700 });
          else if (!existing.isDirectory())
            throw unsafeEntry(header.name, 'a non-directory exists at its place');
          dirs.push({ path: target, mode, mtime: header.mtime });
          entry.resume();
          break;
        }
        case 'file':
        case 'contiguous-file':
        case null:
        case undefined: {
          summary.bytes += await writeFile(target, entry as AsyncIterable<Buffer>, mode, header);
          break;
        }
        case 'symlink': {
          const linkname = header.linkname ?? '';
          if (!linkStaysInside(rel, linkname, within)) {
            throw unsafeEntry(
              header.name,
              `its symlink target ${JSON.stringify(linkname)} leaves the destination`,
            );
          }
          await removeNonDirectory(target, header.name);
          await symlink(linkname, target);
          entry.resume();
          break;
        }
        case 'link':
          throw unsafeEntry(header.name, 'hard links are refused');
        default:
          throw unsafeEntry(header.name, `entries of type ${header.type} are refused`);
      }
      summary.entries++;
    }
  } catch (err) {
    // Stop reading: the source is left to its owner (a response the process abandons, a file).
    stopFeeding = true;
    extract.destroy(new Error('extraction stopped'));
    throw err;
  }
  await feeding;
  if (feedError !== undefined) throw feedError;
  // Innermost first, so a read-only parent is locked only after its children are done.
  for (const dir of dirs.reverse()) {
    await chmod(dir.path, dir.mode);
    if (dir.mtime) await utimes(dir.path, dir.mtime, dir.mtime);
  }
  return summary;
}

async function lstatOrNull(path: string) {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Creates missing parents of `rel` under `dir`; refuses to go through a symlink or a file. */
async function ensureParents(dir: string, rel: string, entryName: string): Promise<void> {
  const parts = rel.split('/').slice(0, -1);
  let current = dir;
  for (const part of parts) {
    current = join(current, part);
    const st = await lstatOrNull(current);
    if (st === null) {
      await mkdir(current, { mode: 0o755 });
    } else if (st.isSymbolicLink()) {
      throw unsafeEntry(entryName, 'it would be written through a symlink');
    } else if (!st.isDirectory()) {
      throw unsafeEntry(entryName, `${relative(dir, current)} is not a directory`);
    }
  }
}

/** Makes room for a file or symlink: an existing file or symlink is removed (never followed). */
async function removeNonDirectory(target: string, entryName: string): Promise<void> {
  const existing = await lstatOrNull(target);
  if (existing === null) return;
  if (existing.isDirectory()) throw unsafeEntry(entryName, 'a directory exists at its place');
  await unlink(target);
}

async function writeFile(
  target: string,
  entry: AsyncIterable<Buffer>,
  mode: number,
  header: Partial<tar.Header> & { name: string },
): Promise<number> {
  await removeNonDirectory(target, header.name);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const file = await open(target, flags, 0o600);
  let bytes = 0;
  try {
    for await (const chunk of entry) {
      await file.write(chunk);
      bytes += chunk.length;
    }
    await file.chmod(mode);
  } finally {
    await file.close();
  }
  if (header.mtime) await utimes(target, header.mtime, header.mtime);
  return bytes;
}
