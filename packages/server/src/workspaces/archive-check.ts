import { createReadStream, createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { AppError } from '../errors.js';

export interface ArchiveLimits {
  maxBytes: number;
  maxEntries: number;
  /** Largest decompressed/compressed ratio accepted for gzip uploads (zip-bomb guard). */
  maxRatio: number;
}

export interface ArchiveSummary {
  entries: number;
  bytes: number;
}

const refuse = (message: string): AppError => new AppError('invalid_archive', message);

/** Why an entry name is refused, or null. Names are relative, without `..` or empty parts (B17). */
export function entryNameProblem(name: string): string | null {
  if (name.length === 0) return 'an empty name';
  if (name.length > 4096) return 'a name longer than 4096 bytes';
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'a control character in its name';
  if (name.startsWith('/')) return 'an absolute name';
  const parts = name
    .replace(/^(\.\/)+/, '')
    .replace(/\/$/, '')
    .split('/');
  if (parts.some((p) => p === '..')) return 'a ".." component';
  if (parts.some((p) => p === '' || p === '.')) return 'an empty or "." component';
  return null;
}

/**
 * A symlink entry may only point inside the root: relative, and never climbing above it when
 * resolved lexically from the link's directory. `depthOfTarget` is how deep the extraction
 * directory lies below the root. Pure depth arithmetic: no name can fake its way back in.
 */
export function symlinkProblem(entryName: string, target: string, depthOfTarget: number): string | null {
  if (target.length === 0) return 'an empty link target';
  if (target.startsWith('/')) return `a symlink to the absolute path ${JSON.stringify(target)}`;
  let depth = depthOfTarget + entryName.split('/').length - 1;
  for (const part of target.split('/')) {
    if (part === '..') depth -= 1;
    else if (part !== '' && part !== '.') depth += 1;
    if (depth < 0) return `a symlink leaving the root (${JSON.stringify(target)})`;
  }
  return null;
}

/**
 * Reads an upload (tar, or gzip-compressed tar), checks every entry against B17 before anything
 * is written into the workspace, and leaves the uncompressed tar in `tempFile` for extraction.
 * Two streaming passes, bounded memory: store (decompressing within the caps), then check.
 * Refused: names with `..`, absolute or empty parts, hard links, devices, FIFOs, setuid/setgid/
 * sticky bits, symlinks leaving the root, duplicate names, and anything over the caps.
 */
export async function checkArchive(
  body: Readable,
  tempFile: string,
  limits: ArchiveLimits,
  targetDepth: number,
): Promise<ArchiveSummary> {
  await storeDecompressed(body, tempFile, limits);
  return checkEntries(tempFile, limits, targetDepth);
}

async function storeDecompressed(body: Readable, tempFile: string, limits: ArchiveLimits): Promise<void> {
  const chunks = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await chunks.next();
  if (first.done) throw refuse('the archive is empty');
  const head = first.value;
  let compressed = 0;
  const source = Readable.from(
    (async function* () {
      compressed += head.length;
      yield head;
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
        compressed += next.value.length;
        yield next.value;
      }
    })(),
  );
  const gzipped = head[0] === 0x1f && head[1] === 0x8b;
  let written = 0;
  const guard = new Transform({
    transform(chunk: Buffer, _enc, done) {
      written += chunk.length;
      if (written > limits.maxBytes + 1024 * 1024) {
        done(
          new AppError('file_too_large', `the archive is larger than ${limits.maxBytes} bytes uncompressed`),
        );
      } else if (gzipped && written > 1024 * 1024 && written / Math.max(compressed, 1) > limits.maxRatio) {
        done(refuse(`the archive expands more than ${limits.maxRatio} times (a decompression bomb?)`));
      } else {
        done(null, chunk);
      }
    },
  });
  try {
    await (gzipped
      ? pipeline(source, createGunzip(), guard, createWriteStream(tempFile, { mode: 0o600 }))
      : pipeline(source, guard, createWriteStream(tempFile, { mode: 0o600 })));
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw refuse(`the archive could not be read: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function checkEntries(
  tempFile: string,
  limits: ArchiveLimits,
  targetDepth: number,
): Promise<ArchiveSummary> {
  const summary: ArchiveSummary = { entries: 0, bytes: 0 };
  const seen = new Set<string>();
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const verdict = judgeEntry(header, summary, seen, limits, targetDepth);
    if (verdict) {
      // Refusing destroys the entry stream with the same error; it must not go unheard.
      stream.on('error', () => {});
      next(verdict);
      return;
    }
    stream.on('end', () => next());
    stream.on('error', (err) => next(err));
    stream.resume();
  });
  try {
    await pipeline(createReadStream(tempFile), extract);
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw refuse(`the archive is malformed: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (summary.entries === 0) throw refuse('the archive has no entries');
  return summary;
}

function judgeEntry(
  header: tar.Header,
  summary: ArchiveSummary,
  seen: Set<string>,
  limits: ArchiveLimits,
  targetDepth: number,
): AppError | null {
  const fail = (why: string) => refuse(`entry ${JSON.stringify(header.name)} is refused: ${why}`);
  summary.entries += 1;
  if (summary.entries > limits.maxEntries)
    return refuse(`the archive has more than ${limits.maxEntries} entries`);
  const problem = entryNameProblem(header.name);
  if (problem) return fail(problem);
  const name = header.name.replace(/^(\.\/)+/, '').replace(/\/$/, '');
  if (seen.has(name)) return fail('a duplicate name');
  seen.add(name);
  if (((header.mode ?? 0) & 0o7000) !== 0) return fail('a setuid, setgid or sticky bit');
  switch (header.type) {
    case 'file':
    case 'contiguous-file':
    case 'directory':
      break;
    case 'symlink': {
      const why = symlinkProblem(name, header.linkname ?? '', targetDepth);
      if (why) return fail(why);
      break;
    }
    case 'link':
      return fail('a hard link');
    default:
      return fail(
        `its type (${header.type ?? 'unknown'}): only files, directories and symlinks are accepted`,
      );
  }
  summary.bytes += header.size ?? 0;
  if (summary.bytes > limits.maxBytes) {
    return new AppError('file_too_large', `the archive holds more than ${limits.maxBytes} bytes of files`);
  }
  return null;
}
