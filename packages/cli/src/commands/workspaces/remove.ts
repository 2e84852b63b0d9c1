import type { Command } from 'commander';
import type { CliContext } from '../../context.js';
import { errorDocument, renderError } from '../../errors.js';
import { exitCodeFor } from '../../exit-codes.js';
import { NO_WAIT } from '../shared.js';

export function registerRemove(program: Command, ctx: CliContext): void {
  program
    .command('rm')
    .alias('delete')
    .description('Delete workspaces with their containers and volumes (idempotent: unknown names succeed)')
    .argument('<workspace...>', 'workspace ids (ws_…) or names')
    .option('--no-wait', NO_WAIT)
    .addHelpText(
      'after',
      '\nEvery workspace is attempted; the exit code is that of the first failure. With --json the\n' +
        'document is {"deleted": [...]} or, after a failure, {"error": {...}, "deleted": [...]}.',
    )
    .action(async (targets: string[], opts: { wait: boolean }) => {
      const workspaces = ctx.client().workspaces;
      const deleted: string[] = [];
      let firstError: unknown;
      for (const target of targets) {
        try {
          await workspaces.delete(target, { wait: opts.wait, signal: ctx.signal });
          deleted.push(target);
          if (!ctx.json) ctx.out(opts.wait ? `deleted ${target}` : `deleting ${target}`);
        } catch (err) {
          firstError ??= err;
          if (ctx.json) ctx.note(renderError(err, { dataDir: ctx.dataDir, subject: target }));
          else ctx.fail(err, { subject: target });
        }
      }
      if (!ctx.json) return;
      if (firstError === undefined) {
        ctx.printJson({ deleted });
      } else {
        ctx.printJson({ ...errorDocument(firstError), deleted });
        ctx.exitCode = exitCodeFor(firstError);
      }
    });
}
