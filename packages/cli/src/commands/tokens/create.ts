import { TOKEN_SCOPES, type TokenScope } from '@berth/protocol';
import { Option, type Command } from 'commander';
import type { CliContext } from '../../context.js';

export function registerTokensCreate(tokens: Command, ctx: CliContext): void {
  tokens
    .command('create')
    .description('Create an API token; prints its secret (shown only once) on stdout, details on stderr')
    .argument('<name>', 'a name to recognise the token by')
    .addOption(
      new Option('--scope <scope>', 'user: own workspaces, tiers 1-2; admin: everything')
        .choices(TOKEN_SCOPES)
        .default('user'),
    )
    .addHelpText('after', '\nExample:\n  $ export BERTH_TOKEN="$(berth tokens create ci-runner)"')
    .action(async (name: string, opts: { scope: TokenScope }) => {
      const created = await ctx.client().tokens.create({ name, scope: opts.scope }, { signal: ctx.signal });
      if (ctx.json) {
        ctx.printJson(created);
        return;
      }
      ctx.note(
        `created ${created.token.scope} token ${created.token.name} (${created.token.id}); the secret is shown once:`,
      );
      ctx.out(created.secret);
    });
}
