import type { Command } from 'commander';
import type { CliContext } from '../../context.js';
import { UsageError } from '../../exit-codes.js';
import { readSecretValue, type ValueSource } from './value.js';

export function registerSecretsSet(secrets: Command, ctx: CliContext): void {
  secrets
    .command('set')
    .description('Create or replace a secret; the value comes from stdin, a file or an env var, never argv')
    .argument('<name>', 'secret name, e.g. ANTHROPIC_API_KEY')
    .option('-w, --workspace <workspace>', 'store it for this workspace only (id or name); default: global')
    .option('--from-file <file>', 'read the value from a file (one trailing newline is dropped)')
    .option('--from-env <var>', 'read the value from this environment variable')
    .allowExcessArguments(true)
    .addHelpText(
      'after',
      '\nWithout --from-file/--from-env the value is read from stdin (a hidden prompt on a terminal).\n' +
        'Examples:\n' +
        '  $ berth secrets set ANTHROPIC_API_KEY            # prompts, input hidden\n' +
        '  $ pass show github/token | berth secrets set GH_TOKEN -w my-agent\n' +
        '  $ berth secrets set OPENAI_API_KEY --from-env OPENAI_API_KEY',
    )
    .action(async (name: string, opts: ValueSource & { workspace?: string }, command: Command) => {
      if (command.args.length > 1) {
        throw new UsageError(
          'the value is never taken as an argument (it would land in shell history and ps): pipe it on stdin, or use --from-file or --from-env',
        );
      }
      const value = await readSecretValue(ctx, name, opts);
      const result = await ctx.client().secrets.put(name, value, {
        ...(opts.workspace !== undefined ? { workspace: opts.workspace } : {}),
        signal: ctx.signal,
      });
      const { secret } = result;
      ctx.result(
        result,
        () =>
          `${result.created ? 'created' : 'replaced'} secret ${secret.name} (${
            secret.workspaceId === null ? 'global' : `workspace ${secret.workspaceId}`
          })`,
      );
    });
}
