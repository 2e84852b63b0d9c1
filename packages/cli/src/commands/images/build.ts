import type { Command } from 'commander';
import type { CliContext } from '../../context.js';
import { formatBytes } from '../../format/units.js';

export function registerImagesBuild(images: Command, ctx: CliContext): void {
  images
    .command('build')
    .description("Build (or pull) a runtime's image now, so the first create does not wait for it")
    .argument('<runtime>', 'runtime name, see `berth runtimes`')
    .action(async (runtime: string) => {
      ctx.note(`building the image of runtime ${runtime}; this can take a few minutes`);
      const image = await ctx.client().images.build(runtime, { signal: ctx.signal });
      ctx.result(image, () => {
        const size = image.sizeBytes === null ? '' : `, ${formatBytes(image.sizeBytes)}`;
        return `${image.image} is ${image.present ? 'present' : 'missing'} (runtime ${image.runtime}${size})`;
      });
    });
}
