import type { Command } from 'commander';
import type { CliContext } from '../../context.js';
import { renderTable } from '../../format/table.js';

export function registerSecretsList(secrets: Command, ctx: CliContext): void {
  secrets
    .command('ls')
    .alias('list')
    .description('List secrets: names and metadata, never values (global, or one workspace with -w)')
    .option('-w, --workspace <workspace>', "this workspace's own secrets (id or name)")
    .action(async (opts: { workspace?: string }) => {
      const items = await ctx.client().secrets.list({
        ...(opts.workspace !== undefined ? { workspace: opts.workspace } : {}),
        signal: ctx.signal,
      });
      ctx.result({ items }, () =>
        renderTable(
          ['NAME', 'SCOPE', 'WORKSPACE', 'CREATED', 'UPDATED'],
          items.map((s) => [s.name, s.scope, s.workspaceId ?? '-', s.createdAt, s.updatedAt]),
        ),
      );
    });
}
