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
          ['NAME', 'PORT', 'SOURCE', 'IMAGE', 'REQUIRED FILES', 'DESCRIPTION'],
          items.map((r) => [
            r.name,
            String(r.port),
            r.source,
            r.image,
            r.requiredFiles.length > 0 ? r.requiredFiles.join(',') : '-',
            r.description,
          ]),
        ),
      );
    });
}
