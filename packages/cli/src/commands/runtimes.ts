import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { renderTable } from '../format/table.js';

export function registerRuntimes(program: Command, ctx: CliContext): void {
  program
    .command('runtimes')
    .description('List the runtime catalogue (what `create --runtime` accepts)')
    .action(async () => {
      const items = await ctx.client().runtimes.list({ signal: ctx.signal });
      ctx.result({ items }, () =>
        renderTable(
          ['NAME', 'IMAGE', 'PRESENT', 'SOURCE', 'REQUIRED ENV', 'DESCRIPTION'],
          items.map((r) => [
            r.name,
            r.image,
            r.imagePresent ? 'yes' : 'no',
            r.source,
            r.requiredEnv.length > 0 ? r.requiredEnv.join(',') : '-',
            r.description,
          ]),
        ),
      );
    });
}
