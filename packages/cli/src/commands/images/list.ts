import type { Command } from 'commander';
import type { CliContext } from '../../context.js';
import { renderTable } from '../../format/table.js';
import { formatBytes } from '../../format/units.js';

export function registerImagesList(images: Command, ctx: CliContext): void {
  images
    .command('ls')
    .alias('list')
    .description("List each runtime's image and whether the engine has it")
    .action(async () => {
      const items = await ctx.client().images.list({ signal: ctx.signal });
      ctx.result({ items }, () =>
        renderTable(
          ['RUNTIME', 'IMAGE', 'PRESENT', 'SIZE', 'SOURCE', 'ID'],
          items.map((i) => [
            i.runtime,
            i.image,
            i.present ? 'yes' : 'no',
            i.sizeBytes === null ? '-' : formatBytes(i.sizeBytes),
            i.source,
            i.id === null ? '-' : i.id.replace(/^sha256:/, '').slice(0, 12),
          ]),
        ),
      );
    });
}
