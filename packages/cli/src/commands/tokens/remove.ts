import type { Command } from 'commander';
import type { CliContext } from '../../context.js';

export function registerTokensRemove(tokens: Command, ctx: CliContext): void {
  tokens
    .command('rm')
    .alias('revoke')
    .description('Revoke an API token (exit 3 when there is no such token)')
    .argument('<id>', 'token id, see `berth tokens ls`')
    .action(async (id: string) => {
      await ctx.client().tokens.revoke(id, { signal: ctx.signal });
      ctx.result({ revoked: id }, () => `revoked ${id}`);
    });
}
