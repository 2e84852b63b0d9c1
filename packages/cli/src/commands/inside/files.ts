import { createReadStream, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { Readable } from 'node:stream';
import type { FileRoot } from '@berth/protocol';
import { resolveFilePath } from '@berth/sdk';
import { Option, type Command } from 'commander';
import type { CliContext } from '../../context.js';
import { UsageError } from '../../exit-codes.js';
import { remotePath, renderFileInfo, renderFileTable } from '../../format/files.js';
import { formatBytes } from '../../format/units.js';
import { parseInteger, parseOctalMode } from '../../parse.js';
import { WORKSPACE_ARG } from '../shared.js';

const PATH_ARG = 'path relative to /workspace (or --root), or absolute under /workspace or /configs';

const HELP = `
Paths are relative to /workspace unless --root configs is given; absolute paths under /workspace
or /configs pick their root. Every operation runs inside the workspace as its user and never
leaves the root (symlinks pointing outside are refused). Works on stopped workspaces too.

Examples:
  $ berth files ls agent-1 src -d 2
  $ berth files put agent-1 ./config.yaml config.yaml --root configs --mode 600
  $ echo hello | berth files put agent-1 - notes/hello.txt
  $ berth files cat agent-1 /workspace/out/report.pdf > report.pdf
  $ berth files mv agent-1 old.txt archive/old.txt && berth files rm agent-1 tmp -r`;

const FILE_ROOTS: readonly FileRoot[] = ['workspace', 'configs'];

export interface RootFlag {
  root?: FileRoot;
}

export function rootOption(): Option {
  return new Option('--root <root>', 'what relative paths are relative to').choices(FILE_ROOTS);
}

/** `berth files ...`: the file API. */
export function registerFiles(program: Command, ctx: CliContext): void {
  const files = program
    .command('files')
    .description('Files in a workspace: ls, cat, put, stat, mkdir, mv, rm (see also berth cp)')
    .addHelpText('after', HELP);
  const api = (idOrName: string) => ctx.client().workspaces.ref(idOrName).files;

  files
    .command('ls')
    .description('List a directory (default: the root)')
    .argument('<workspace>', WORKSPACE_ARG)
    .argument('[path]', PATH_ARG, '')
    .addOption(rootOption())
    .option('-d, --depth <n>', 'levels to descend: 1 = direct children (default)', (v) =>
      parseInteger(v, 1, 64),
    )
    .option('--limit <n>', 'most entries (server default 1000)', (v) => parseInteger(v, 1))
    .addHelpText('after', '\n--json prints {"items": [FileInfo...], "truncated": bool}.')
    .action(async (idOrName: string, path: string, opts: RootFlag & { depth?: number; limit?: number }) => {
      const list = await api(idOrName).list(path, {
        root: opts.root,
        depth: opts.depth,
        limit: opts.limit,
        signal: ctx.signal,
      });
      ctx.result({ items: [...list], truncated: list.truncated }, () =>
        renderFileTable(list, (opts.depth ?? 1) > 1),
      );
      if (!ctx.json && list.truncated)
        ctx.note('berth: the listing was cut at the limit; use --limit for more');
    });

  files
    .command('cat')
    .description('Write a file to stdout, byte for byte')
    .argument('<workspace>', WORKSPACE_ARG)
    .argument('<path>', PATH_ARG)
    .addOption(rootOption())
    .action(async (idOrName: string, path: string, opts: RootFlag) => {
      if (ctx.json) throw new UsageError('berth files cat writes raw bytes; --json is not supported');
      const body = await api(idOrName).read(path, { root: opts.root, format: 'stream', signal: ctx.signal });
      for await (const chunk of body) await ctx.write(ctx.stdout, chunk);
    });

  files
    .command('put')
    .description('Write a local file (or stdin with -) to a path in the workspace, atomically')
    .argument('<workspace>', WORKSPACE_ARG)
    .argument('<local>', 'local file, or - for stdin')
    .argument('<path>', `${PATH_ARG}; ending in / puts the file in that directory`)
    .addOption(rootOption())
    .option('--mode <octal>', "permission bits (default: the local file's, 644 for stdin)", parseOctalMode)
    .option('--no-parents', 'fail instead of creating missing parent directories')
    .action(
      async (
        idOrName: string,
        local: string,
        path: string,
        opts: RootFlag & { mode?: number; parents: boolean },
      ) => {
        let data: ReadableStream<Uint8Array>;
        let mode = opts.mode;
        let target = path;
        if (local === '-') {
          data = Readable.toWeb(ctx.stdin) as ReadableStream<Uint8Array>;
          if (path === '' || path.endsWith('/'))
            throw new UsageError('with - (stdin), <path> must name the file');
        } else {
          const file = resolve(ctx.cwd, local);
          const st = statOrUsage(file, local);
          if (!st.isFile())
            throw new UsageError(`${local} is not a regular file; use berth cp for directories`);
          mode ??= st.mode & 0o777;
          if (path === '' || path.endsWith('/')) target = `${path}${basename(file)}`;
          data = Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
        }
        const where = resolveFilePath(target, opts.root);
        const info = await api(idOrName).write(target, data, {
          root: opts.root,
          ...(mode !== undefined ? { mode } : {}),
          parents: opts.parents,
          signal: ctx.signal,
        });
        ctx.result(info, () => `wrote ${remotePath(where.root, info.path)} (${formatBytes(info.size)})`);
      },
    );

  files
    .command('stat')
    .description('Describe a file, directory or symlink')
    .argument('<workspace>', WORKSPACE_ARG)
    .argument('<path>', PATH_ARG)
    .addOption(rootOption())
    .option('-L, --follow', 'describe the target of a final symlink instead of the link')
    .action(async (idOrName: string, path: string, opts: RootFlag & { follow?: boolean }) => {
      const where = resolveFilePath(path, opts.root);
      const info = await api(idOrName).getInfo(path, {
        root: opts.root,
        follow: opts.follow,
        signal: ctx.signal,
      });
      ctx.result(info, () => renderFileInfo(info, where.root));
    });

  files
    .command('mkdir')
    .description('Create a directory, with missing parents (fine when it exists)')
    .argument('<workspace>', WORKSPACE_ARG)
    .argument('<path>', PATH_ARG)
    .addOption(rootOption())
    .option('--mode <octal>', 'permission bits (default 755)', parseOctalMode)
    .action(async (idOrName: string, path: string, opts: RootFlag & { mode?: number }) => {
      const where = resolveFilePath(path, opts.root);
      const info = await api(idOrName).makeDir(path, {
        root: opts.root,
        mode: opts.mode,
        signal: ctx.signal,
      });
      ctx.result(info, () => `created ${remotePath(where.root, info.path)}`);
    });

  files
    .command('mv')
    .description('Move or rename within one root')
    .argument('<workspace>', WORKSPACE_ARG)
    .argument('<from>', PATH_ARG)
    .argument('<to>', 'new path (same root)')
    .addOption(rootOption())
    .option('-f, --overwrite', 'replace an existing target (default: fail with exit 4)')
    .action(async (idOrName: string, from: string, to: string, opts: RootFlag & { overwrite?: boolean }) => {
      const source = resolveFilePath(from, opts.root);
      const info = await api(idOrName).rename(from, to, {
        root: opts.root,
        overwrite: opts.overwrite,
        signal: ctx.signal,
      });
      ctx.result(
        info,
        () => `moved ${remotePath(source.root, source.path)} to ${remotePath(source.root, info.path)}`,
      );
    });

  files
    .command('rm')
    .description('Remove a file, a symlink (never its target) or a directory (-r when not empty)')
    .argument('<workspace>', WORKSPACE_ARG)
    .argument('<path>', PATH_ARG)
    .addOption(rootOption())
    .option('-r, --recursive', 'remove a directory with everything in it')
    .addHelpText('after', '\n--json prints {"removed": "<absolute path>"}.')
    .action(async (idOrName: string, path: string, opts: RootFlag & { recursive?: boolean }) => {
      const where = resolveFilePath(path, opts.root);
      await api(idOrName).remove(path, { root: opts.root, recursive: opts.recursive, signal: ctx.signal });
      const removed = remotePath(where.root, where.path);
      ctx.result({ removed }, () => `removed ${removed}`);
    });
}

function statOrUsage(path: string, shown: string) {
  try {
    return statSync(path);
  } catch (err) {
    const reason = err instanceof Error && 'code' in err ? String(err.code) : 'unreadable';
    throw new UsageError(`cannot read ${shown} (${reason})`);
  }
}
