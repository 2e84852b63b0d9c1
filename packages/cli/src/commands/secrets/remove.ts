import { NotFoundError } from '@berth/sdk';
import type { Command } from 'commander';
import type { CliContext } from '../../context.js';

export function registerSecretsRemove(secrets: Command, ctx: CliContext): void {
  secrets
    .command('rm')
    .alias('delete')
    .description('Delete a secret (exit 3 when there is no such secret)')
    .argument('<name>', 'secret name')
    .option('-w, --workspace <workspace>', "delete this workspace's own secret (id or name); default: global")
    .action(async (name: string, opts: { workspace?: string }) => {
      const scope = opts.workspace !== undefined ? `workspace ${opts.workspace}` : 'the global scope';
      const deleted = await ctx.client().secrets.delete(name, {
        ...(opts.workspace !== undefined ? { workspace: opts.workspace } : {}),
        signal: ctx.signal,
      });
      if (!deleted) {
        throw new NotFoundError({
          code: 'secret_not_found',
          message: `no secret ${name} in ${scope}; list them with berth secrets ls${opts.workspace !== undefined ? ` -w ${opts.workspace}` : ''}`,
          status: 404,
        });
      }
      ctx.result(
        { deleted: name, workspace: opts.workspace ?? null },
        () => `deleted secret ${name} (${scope})`,
      );
    });
}
