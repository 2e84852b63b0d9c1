import type { Command } from 'commander';
import type { CliContext } from '../../context.js';
import { renderTable } from '../../format/table.js';
import { formatBytes } from '../../format/units.js';

export function registerImagesList(images: Command, ctx: CliContext): void {
  images
    .command('ls')
    .alias('list')
    .description(
      "List each runtime's image: present, size, whether it matches Berth's recipe, its digest and the Debian image it is built on",
    )
    .action(async () => {
      const items = await ctx.client().images.list({ signal: ctx.signal });
      ctx.result({ items }, () =>
        renderTable(
          ['RUNTIME', 'IMAGE', 'PRESENT', 'SIZE', 'SOURCE', 'CURRENT', 'DIGEST', 'BASE'],
          items.map((i) => [
            i.runtime,
            i.image,
            i.present ? 'yes' : 'no',
            i.sizeBytes === null ? '-' : formatBytes(i.sizeBytes),
            i.source,
            i.upToDate === null ? '-' : i.upToDate ? 'yes' : `no: ${i.command}`,
            shortDigest(i.digest),
            shortDigest(i.baseDigest),
          ]),
        ),
      );
    });
}

/** `sha256:abcdef…` → `abcdef123456`; `name@sha256:…` keeps the name. */
function shortDigest(digest: string | null): string {
  if (digest === null) return '-';
  const at = digest.indexOf('@');
  const name = at >= 0 ? `${digest.slice(0, at)}@` : '';
  return `${name}${digest
    .slice(at + 1)
    .replace(/^sha256:/, '')
    .slice(0, 12)}`;
}
