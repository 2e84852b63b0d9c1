import type { WorkspaceEvent } from '@berth/protocol';
import type { Command } from 'commander';
import type { CliContext } from '../../context.js';
import { renderEventTable } from '../../format/workspace.js';
import { parseInteger } from '../../parse.js';
import { WORKSPACE_ARG } from '../shared.js';

interface EventsFlags {
  after?: number;
  limit?: number;
  all?: boolean;
}

export function registerEvents(program: Command, ctx: CliContext): void {
  program
    .command('events')
    .description("Show a workspace's event history (status changes, progress, errors), oldest first")
    .argument('<workspace>', WORKSPACE_ARG)
    .option('--after <id>', 'only events with an id greater than this', (v) => parseInteger(v, 0))
    .option('--limit <n>', 'page size', (v) => parseInteger(v, 1))
    .option('--all', 'page through every event')
    .action(async (idOrName: string, opts: EventsFlags) => {
      const workspaces = ctx.client().workspaces;
      const query = { after: opts.after, limit: opts.limit, signal: ctx.signal };
      let items: WorkspaceEvent[];
      let nextCursor: number | null = null;
      if (opts.all === true) {
        items = [];
        for await (const event of workspaces.allEvents(idOrName, query)) items.push(event);
      } else {
        ({ items, nextCursor } = await workspaces.events(idOrName, query));
      }
      ctx.result({ items, nextCursor }, () => renderEventTable(items));
      if (!ctx.json && nextCursor !== null) {
        ctx.note(`more events: berth events ${idOrName} --after ${nextCursor} (or --all)`);
      }
    });
}
