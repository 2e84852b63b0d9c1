import type { WorkspaceStatus } from '@berth/protocol';
import type { Workspace } from '@berth/sdk';
import type { Command } from 'commander';
import type { CliContext } from '../../context.js';
import { renderWorkspaceTable } from '../../format/workspace.js';
import { collect, parseInteger, parseKeyValue, parseStatusList } from '../../parse.js';

interface ListFlags {
  status?: WorkspaceStatus[];
  label?: [string, string][];
  runtime?: string;
  limit?: number;
  cursor?: string;
  all?: boolean;
}

export function registerList(program: Command, ctx: CliContext): void {
  program
    .command('ls')
    .alias('list')
    .description('List workspaces, newest first (one page unless --all)')
    .option('--status <list>', 'only these statuses, comma-separated (e.g. running,failed)', parseStatusList)
    .option(
      '-l, --label <key=value>',
      'only workspaces with this label (repeatable: all must match)',
      collect(parseKeyValue),
    )
    .option('--runtime <runtime>', 'only workspaces of this runtime')
    .option('--limit <n>', 'page size, 1-200 (server default 50)', (v) => parseInteger(v, 1, 200))
    .option('--cursor <cursor>', 'start at this page (the nextCursor of an earlier page)')
    .option('--all', 'page through every matching workspace')
    .action(async (opts: ListFlags) => {
      const workspaces = ctx.client().workspaces;
      const filter = {
        ...(opts.status ? { status: opts.status } : {}),
        ...(opts.label ? { labels: Object.fromEntries(opts.label) } : {}),
        ...(opts.runtime !== undefined ? { runtime: opts.runtime } : {}),
        ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
        signal: ctx.signal,
      };
      let items: Workspace[];
      let nextCursor: string | null = null;
      if (opts.all === true) {
        items = [];
        for await (const ws of workspaces.listAll(filter)) items.push(ws);
      } else {
        const page = await workspaces.list({ ...filter, ...(opts.cursor ? { cursor: opts.cursor } : {}) });
        items = page.items;
        nextCursor = page.nextCursor;
      }
      const data = items.map((ws) => ws.data);
      ctx.result({ items: data, nextCursor }, () => renderWorkspaceTable(data, ctx.now()));
      if (!ctx.json && nextCursor !== null) {
        ctx.note(`more workspaces: berth ls --cursor ${nextCursor} (or --all)`);
      }
    });
}
