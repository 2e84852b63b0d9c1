import { createReadStream, mkdirSync } from 'node:fs';
import { lstat, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { Readable } from 'node:stream';
import type { FileInfo, FileRoot } from '@berth/protocol';
import { NotFoundError, resolveFilePath, type Files } from '@berth/sdk';
import type { Command } from 'commander';
import type { CliContext } from '../../context.js';
import { UsageError } from '../../exit-codes.js';
import { remotePath } from '../../format/files.js';
import { formatBytes } from '../../format/units.js';
import { parseCopyLocation, type CopyLocation } from '../../parse.js';
import { extractTar, type ExtractOptions } from '../../tar/extract.js';
import { packPath } from '../../tar/pack.js';
import { rootOption, type RootFlag } from './files.js';

const HELP = `
One side is <workspace>:<path>, the other a local path, as in docker cp. Remote paths are relative
to /workspace (or --root), or absolute under /workspace or /configs. A local path containing ':'
must start with ./ or /.

  SRC is a file:       copied to DEST, or into DEST when it is an existing directory
  SRC is a directory:  copied into DEST when it exists, else DEST becomes the copy
  SRC ends with /.:    the directory's contents are copied into DEST (created if missing)
  - as SRC (upload):   a tar archive read from stdin is extracted into DEST
  - as DEST (download): the tar archive is written to stdout

Directories travel as tar archives (regular files, directories and symlinks, with permission bits
and times). Downloads are extracted safely: entries with absolute names or "..", hard links,
devices and symlinks pointing outside DEST are refused, and nothing is written through a symlink.
Uploads are checked the same way by the server (a refused entry changes nothing).

Examples:
  $ berth cp ./src agent-1:/workspace/src
  $ berth cp ./config.yaml agent-1:/configs/config.yaml
  $ berth cp agent-1:out/report.pdf .
  $ berth cp agent-1:/workspace/. ./backup`;

export function registerCp(program: Command, ctx: CliContext): void {
  program
    .command('cp')
    .description('Copy files and directories between a workspace and the local machine')
    .argument('<src>', '<workspace>:<path>, a local path, or - (a tar on stdin)')
    .argument('<dest>', '<workspace>:<path>, a local path, or - (a tar to stdout)')
    .addOption(rootOption())
    .addHelpText('after', `${HELP}\n\n--json prints {"entries", "bytes", "to"} (what was copied, and where).`)
    .action(async (srcArg: string, destArg: string, opts: RootFlag) => {
      const src = parseCopyLocation(srcArg);
      const dest = parseCopyLocation(destArg);
      if (src.kind === 'remote' && dest.kind === 'remote') {
        throw new UsageError('copying between workspaces is not supported; copy through a local directory');
      }
      if (src.kind === 'local' && dest.kind === 'local') {
        throw new UsageError('one of SRC and DEST must be <workspace>:<path>');
      }
      const summary =
        src.kind === 'local' && dest.kind === 'remote'
          ? await upload(ctx, src.path, dest, opts.root)
          : await download(ctx, src as Extract<CopyLocation, { kind: 'remote' }>, dest.path, opts.root);
      if (summary !== undefined) {
        ctx.result(
          summary,
          () =>
            `copied ${summary.entries} ${summary.entries === 1 ? 'entry' : 'entries'} (${formatBytes(summary.bytes)}) to ${summary.to}`,
        );
      }
    });
}

interface CopySummary {
  entries: number;
  bytes: number;
  to: string;
}

/** Splits a trailing `/.` (copy the contents) off a path. */
export function contentsOf(path: string): { path: string; contents: boolean } {
  if (path === '.') return { path: '', contents: true };
  if (path.endsWith('/.')) return { path: path.slice(0, -2) || '/', contents: true };
  return { path, contents: false };
}

async function remoteStat(files: Files, path: string, root: FileRoot): Promise<FileInfo | null> {
  try {
    return await files.getInfo(path, { root, follow: true });
  } catch (err) {
    if (err instanceof NotFoundError && err.code === 'file_not_found') return null;
    throw err;
  }
}

async function upload(
  ctx: CliContext,
  localArg: string,
  dest: Extract<CopyLocation, { kind: 'remote' }>,
  rootFlag: FileRoot | undefined,
): Promise<CopySummary> {
  const files = ctx.client().workspaces.ref(dest.workspace).files;
  const target = resolveFilePath(dest.path, rootFlag);
  const shown = `${dest.workspace}:${remotePath(target.root, target.path)}`;
  const signal = ctx.signal;
  if (localArg === '-') {
    const data = Readable.toWeb(ctx.stdin) as ReadableStream<Uint8Array>;
    const summary = await files.uploadArchive(target.path, data, { root: target.root, signal });
    return { ...summary, to: shown };
  }
  const { path: localPath, contents } = contentsOf(localArg);
  const local = resolve(ctx.cwd, localPath === '' ? '.' : localPath);
  const st = await stat(local).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${localArg} (${err.code ?? 'unreadable'})`);
  });
  const existing = await remoteStat(files, target.path, target.root);
  if (st.isDirectory()) {
    if (existing !== null && existing.type !== 'dir') {
      throw new UsageError(`cannot copy directory ${localArg} onto file ${shown}`);
    }
    // Into an existing directory under its own name; else the target becomes the copy.
    const name = existing !== null && !contents ? basename(local) : '';
    const summary = await files.uploadArchive(target.path, packPath(local, { name, onSkip: skipped(ctx) }), {
      root: target.root,
      signal,
    });
    return { ...summary, to: name === '' ? shown : `${shown}/${name}` };
  }
  if (!st.isFile()) throw new UsageError(`${localArg} is not a regular file or directory`);
  if (contents) throw new UsageError(`${localArg} is not a directory`);
  const into = existing?.type === 'dir' || target.path === '' || dest.path.endsWith('/');
  const path = into ? [target.path, basename(local)].filter((p) => p !== '').join('/') : target.path;
  const data = Readable.toWeb(createReadStream(local)) as ReadableStream<Uint8Array>;
  const info = await files.write(path, data, { root: target.root, mode: st.mode & 0o777, signal });
  return { entries: 1, bytes: info.size, to: `${dest.workspace}:${remotePath(target.root, info.path)}` };
}

function skipped(ctx: CliContext): (path: string, why: string) => void {
  return (path, why) => ctx.note(`berth: skipped ${path}: ${why}`);
}

/** Name mappings for extraction: rename the archive's top entry, or drop it and keep what is below. */
export const renameTop =
  (name: string) =>
  (entry: string): string => {
    const slash = entry.indexOf('/');
    return slash < 0 ? name : `${name}${entry.slice(slash)}`;
  };
export const stripTop = (entry: string): string | null => {
  const slash = entry.indexOf('/');
  return slash < 0 ? null : entry.slice(slash + 1);
};

async function download(
  ctx: CliContext,
  src: Extract<CopyLocation, { kind: 'remote' }>,
  destArg: string,
  rootFlag: FileRoot | undefined,
): Promise<CopySummary | undefined> {
  const files = ctx.client().workspaces.ref(src.workspace).files;
  const { path: srcPath, contents } = contentsOf(src.path);
  const source = resolveFilePath(srcPath, rootFlag);
  const abort = new AbortController();
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, abort.signal]) : abort.signal;

  if (destArg === '-') {
    const body = await files.downloadArchive(source.path, { root: source.root, signal });
    for await (const chunk of body) await ctx.write(ctx.stdout, chunk);
    return undefined;
  }

  const dest = resolve(ctx.cwd, destArg);
  const existing = await lstat(dest).catch(() => null);
  let plan: ExtractOptions;
  if (contents) {
    if (existing === null) mkdirSync(dest, { recursive: true });
    else if (!existing.isDirectory()) throw new UsageError(`${destArg} is not a directory`);
    plan = { dir: dest, mapName: stripTop };
  } else if (existing?.isDirectory()) {
    plan = { dir: dest };
  } else {
    const parent = dirname(dest);
    const parentStat = await stat(parent).catch(() => null);
    if (parentStat === null || !parentStat.isDirectory()) {
      throw new UsageError(`the directory ${dirname(destArg) || '.'} does not exist`);
    }
    plan = { dir: parent, mapName: renameTop(basename(dest)), within: basename(dest) };
  }
  const body = await files.downloadArchive(source.path, { root: source.root, signal });
  try {
    const summary = await extractTar(body, plan);
    return { ...summary, to: dest };
  } catch (err) {
    abort.abort();
    throw err;
  }
}
