import type { Command } from 'commander';
import type { CliContext } from '../../context.js';
import { renderWorkspaceDetails } from '../../format/workspace.js';
import { WORKSPACE_ARG } from '../shared.js';

export function registerGet(program: Command, ctx: CliContext): void {
  program
    .command('get')
    .alias('inspect')
    .description('Show one workspace: status, error, endpoints, resources, labels')
    .argument('<workspace>', WORKSPACE_ARG)
    .action(async (idOrName: string) => {
      const ws = await ctx.client().workspaces.get(idOrName, { signal: ctx.signal });
      ctx.result(ws.data, () => renderWorkspaceDetails(ws.data, ctx.now()));
    });
}
