import type { Command } from 'commander';
import type { CliContext } from '../../context.js';
import { renderTable } from '../../format/table.js';

export function registerTokensList(tokens: Command, ctx: CliContext): void {
  tokens
    .command('ls')
    .alias('list')
    .description('List API tokens (never their secrets)')
    .action(async () => {
      const items = await ctx.client().tokens.list({ signal: ctx.signal });
      ctx.result({ items }, () =>
        renderTable(
          ['ID', 'NAME', 'SCOPE', 'CREATED', 'REVOKED'],
          items.map((t) => [t.id, t.name, t.scope, t.createdAt, t.revokedAt ?? '-']),
        ),
      );
    });
}
