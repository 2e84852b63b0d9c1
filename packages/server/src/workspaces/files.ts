import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { FileInfo, FileRoot } from '@berth/protocol';
import type { WorkspaceRecord } from '../domain/workspace.js';
import { AppError } from '../errors.js';
import type { ProcessHandle } from '../engine/types.js';
import { checkArchive, type ArchiveSummary } from './archive-check.js';
import { CONFIGS_PATH, WORKSPACE_PATH } from './container-plan.js';
import { helperError, type InWorkspace } from './in-workspace.js';

export interface FileLimits {
  maxReadBytes: number;
  maxWriteBytes: number;
  maxArchiveBytes: number;
  maxArchiveEntries: number;
  maxArchiveRatio: number;
  maxListEntries: number;
}

interface HelperEntry {
  path: string;
  name: string;
  type: FileInfo['type'];
  size: number;
  mode: number;
  mtimeMs: number;
  linkTarget?: string;
}

const toInfo = (e: HelperEntry): FileInfo => ({
  path: e.path,
  name: e.name,
  type: e.type,
  size: e.size,
  mode: e.mode,
  modifiedAt: new Date(e.mtimeMs).toISOString(),
  ...(e.linkTarget !== undefined ? { linkTarget: e.linkTarget } : {}),
});

/**
 * Checks a path against the rules of B14 before any process starts: relative, no `..`, no empty or
 * `.` components (one trailing slash is tolerated), no control characters, at most 4096 bytes and
 * 255 per component. `""` and `"."` mean the root. berth-helper checks again inside the workspace
 * and resolves symlinks without ever leaving the root.
 */
export function checkFilePath(path: string, field = 'path'): string {
  const fail = (why: string) =>
    new AppError('invalid_path', `${field} ${JSON.stringify(path.slice(0, 80))} ${why}`);
  if (path === '' || path === '.' || path === './') return '';
  if (Buffer.byteLength(path) > 4096) throw fail('is longer than 4096 bytes');
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (/[\u0000-\u001f\u007f]/.test(path)) throw fail('contains a control character');
  if (path.startsWith('/')) throw fail('must be relative to its root (/workspace or /configs)');
  const trimmed = path.endsWith('/') ? path.slice(0, -1) : path;
  const parts = trimmed.split('/');
  if (parts.includes('..')) throw fail('must not contain ".."');
  if (parts.some((p) => p === '' || p === '.')) throw fail('must not contain empty or "." components');
  if (parts.some((p) => Buffer.byteLength(p) > 255)) throw fail('has a component longer than 255 bytes');
  return trimmed;
}

/**
 * Files of a workspace, rooted at /workspace or /configs, read and written by berth-helper as the
 * workspace user inside the workspace (or, when it is stopped, in a one-shot container of Berth's
 * image on the same volumes). Nothing here touches a host path.
 */
export class FileService {
  constructor(
    private readonly inWorkspace: InWorkspace,
    private readonly limits: FileLimits,
    private readonly tempDir: string,
  ) {
    mkdirSync(tempDir, { recursive: true, mode: 0o700 });
  }

  rootPath(ws: WorkspaceRecord, root: FileRoot): string {
    if (root === 'configs') return CONFIGS_PATH;
    if (ws.spec.tier === 1) {
      throw new AppError('invalid_state', 'tier 1 workspaces have no /workspace; use root=configs');
    }
    return WORKSPACE_PATH;
  }

  async stat(ws: WorkspaceRecord, root: FileRoot, path: string, follow: boolean): Promise<FileInfo> {
    const args = [
      'fs',
      'stat',
      this.rootPath(ws, root),
      checkFilePath(path),
      ...(follow ? ['--follow'] : []),
    ];
    const out = await this.inWorkspace.helperCall(ws, args);
    return toInfo(JSON.parse(out.toString('utf8')) as HelperEntry);
  }

  async list(
    ws: WorkspaceRecord,
    root: FileRoot,
    path: string,
    depth: number,
    limit: number,
  ): Promise<{ items: FileInfo[]; truncated: boolean }> {
    const max = Math.min(limit, this.limits.maxListEntries);
    const out = await this.inWorkspace.helperCall(ws, [
      'fs',
      'list',
      this.rootPath(ws, root),
      checkFilePath(path),
      String(depth),
      String(max),
    ]);
    const items: FileInfo[] = [];
    let truncated = false;
    for (const line of out.toString('utf8').split('\n')) {
      if (!line) continue;
      const entry = JSON.parse(line) as HelperEntry | { truncated: true };
      if ('truncated' in entry) truncated = true;
      else items.push(toInfo(entry));
    }
    return { items, truncated };
  }

  /**
   * Streams a file. Resolves once the helper produced its first bytes (or finished), so a missing
   * file is a clean 404 before any response header is sent.
   */
  async read(ws: WorkspaceRecord, root: FileRoot, path: string): Promise<AsyncIterable<Buffer>> {
    const args = [
      'fs',
      'read',
      this.rootPath(ws, root),
      checkFilePath(path),
      String(this.limits.maxReadBytes),
    ];
    return this.streamHelper(ws, args);
  }

  /** Streams a tar of a file or directory (regular files, directories and symlinks only). */
  async downloadArchive(ws: WorkspaceRecord, root: FileRoot, path: string): Promise<AsyncIterable<Buffer>> {
    const args = [
      'fs',
      'tar-create',
      this.rootPath(ws, root),
      checkFilePath(path),
      String(this.limits.maxArchiveBytes),
    ];
    return this.streamHelper(ws, args);
  }

  async write(
    ws: WorkspaceRecord,
    root: FileRoot,
    path: string,
    body: Readable,
    options: { mode: number; parents: boolean },
  ): Promise<FileInfo> {
    const rel = checkFilePath(path);
    if (rel === '') throw new AppError('invalid_path', 'path must name a file, not the root');
    const handle = await this.inWorkspace.helper(
      ws,
      [
        'fs',
        'write',
        this.rootPath(ws, root),
        rel,
        options.mode.toString(8),
        options.parents ? '1' : '0',
        String(this.limits.maxWriteBytes),
      ],
      { stdin: true },
    );
    await this.feed(handle, body, this.limits.maxWriteBytes);
    return this.stat(ws, root, rel, false);
  }

  async mkdir(
    ws: WorkspaceRecord,
    root: FileRoot,
    path: string,
    mode: number,
    parents: boolean,
  ): Promise<FileInfo> {
    const rel = checkFilePath(path);
    if (rel === '') throw new AppError('invalid_path', 'path must name a directory below the root');
    await this.inWorkspace.helperCall(ws, [
      'fs',
      'mkdir',
      this.rootPath(ws, root),
      rel,
      mode.toString(8),
      parents ? '1' : '0',
    ]);
    return this.stat(ws, root, rel, false);
  }

  async move(
    ws: WorkspaceRecord,
    root: FileRoot,
    from: string,
    to: string,
    overwrite: boolean,
  ): Promise<FileInfo> {
    const src = checkFilePath(from, 'from');
    const dst = checkFilePath(to, 'to');
    if (src === '' || dst === '')
      throw new AppError('invalid_path', 'the root itself cannot be moved or replaced');
    await this.inWorkspace.helperCall(ws, [
      'fs',
      'move',
      this.rootPath(ws, root),
      src,
      dst,
      overwrite ? '1' : '0',
    ]);
    return this.stat(ws, root, dst, false);
  }

  async remove(ws: WorkspaceRecord, root: FileRoot, path: string, recursive: boolean): Promise<void> {
    const rel = checkFilePath(path);
    if (rel === '') throw new AppError('invalid_path', 'the root itself cannot be removed');
    await this.inWorkspace.helperCall(ws, [
      'fs',
      'remove',
      this.rootPath(ws, root),
      rel,
      recursive ? '1' : '0',
    ]);
  }

  /**
   * Extracts an uploaded tar (or .tar.gz) under `path`. The whole archive is checked first
   * (archive-check.ts), so a refused entry changes nothing; berth-helper checks again as it writes.
   */
  async uploadArchive(
    ws: WorkspaceRecord,
    root: FileRoot,
    path: string,
    body: Readable,
  ): Promise<ArchiveSummary> {
    const rel = checkFilePath(path);
    const rootPath = this.rootPath(ws, root);
    const temp = join(this.tempDir, `upload-${randomBytes(8).toString('hex')}.tar`);
    try {
      const depth = rel === '' ? 0 : rel.split('/').length;
      const summary = await checkArchive(
        body,
        temp,
        {
          maxBytes: this.limits.maxArchiveBytes,
          maxEntries: this.limits.maxArchiveEntries,
          maxRatio: this.limits.maxArchiveRatio,
        },
        depth,
      );
      const handle = await this.inWorkspace.helper(
        ws,
        [
          'fs',
          'tar-extract',
          rootPath,
          rel,
          String(this.limits.maxArchiveBytes),
          String(this.limits.maxArchiveEntries),
        ],
        { stdin: true },
      );
      await this.feed(handle, createReadStream(temp), Number.MAX_SAFE_INTEGER);
      return summary;
    } finally {
      rmSync(temp, { force: true });
    }
  }

  /** Sends `body` to the helper's stdin, closes it, and fails on the helper's error. */
  private async feed(handle: ProcessHandle, body: Readable, maxBytes: number): Promise<void> {
    const stderr: Buffer[] = [];
    const drain = (async () => {
      for await (const chunk of handle.output()) if (chunk.stream === 'stderr') stderr.push(chunk.data);
    })();
    // Not awaited when the upload is cut short (the connection is closed under it).
    drain.catch(() => {});
    try {
      let sent = 0;
      // Stopping early must not destroy the request: the client still gets its 413 (the error
      // handler then closes the connection instead of reading the rest).
      for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        sent += chunk.length;
        // The chunk that crosses the cap is still sent: the helper then sees more than its
        // `maxBytes`, refuses, and removes its temporary file. (Merely ending stdin early would
        // look like a complete, shorter file.) The rest of the body is never read.
        await handle.writeStdin(chunk);
        if (sent > maxBytes) break;
      }
      handle.endStdin();
      await drain;
      const code = await handle.wait();
      if (code !== 0) throw helperError(code, Buffer.concat(stderr).toString('utf8'));
    } finally {
      await handle.close();
    }
  }

  /** Runs the helper; returns its stdout as a stream once it is known not to fail at the start. */
  private async streamHelper(ws: WorkspaceRecord, args: string[]): Promise<AsyncIterable<Buffer>> {
    const handle = await this.inWorkspace.helper(ws, args, { stdin: false });
    const output = handle.output()[Symbol.asyncIterator]();
    const stderr: Buffer[] = [];
    let first: Buffer | null = null;
    try {
      for (;;) {
        const next = await output.next();
        if (next.done) break;
        if (next.value.stream === 'stderr') stderr.push(next.value.data);
        else {
          first = next.value.data;
          break;
        }
      }
      if (first === null) {
        const code = await handle.wait();
        await handle.close();
        if (code !== 0) throw helperError(code, Buffer.concat(stderr).toString('utf8'));
        return (async function* () {})();
      }
    } catch (err) {
      await handle.close();
      throw err;
    }
    const head = first;
    return (async function* () {
      try {
        yield head;
        for (let next = await output.next(); !next.done; next = await output.next()) {
          if (next.value.stream === 'stdout') yield next.value.data;
          else stderr.push(next.value.data);
        }
        const code = await handle.wait();
        // Failing mid-stream (e.g. an archive over its cap): end with an error so the client
        // sees a broken transfer instead of a silently truncated file.
        if (code !== 0) throw helperError(code, Buffer.concat(stderr).toString('utf8'));
      } finally {
        await handle.close();
      }
    })();
  }
}
