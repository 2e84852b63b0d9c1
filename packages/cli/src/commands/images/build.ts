import type { Command } from 'commander';
import type { CliContext } from '../../context.js';
import { ProgressReporter } from '../../format/progress.js';
import { formatBytes } from '../../format/units.js';

/** How often the build's progress is read from `GET /v1/images` while the build request is open. */
const PROGRESS_POLL_MS = 250;

export function registerImagesBuild(images: Command, ctx: CliContext): void {
  images
    .command('build')
    .description("Build (or pull) a runtime's image now, so the first create does not wait for it")
    .argument('<runtime>', 'runtime name, see `berth runtimes`')
    .action(async (runtime: string) => {
      ctx.note(`building the image of runtime ${runtime}; this can take a few minutes`);
      const client = ctx.client();
      // The build answers when it is done; meanwhile its progress shows in the image list.
      const reporter = new ProgressReporter(ctx.stderr);
      let building = true;
      const poll = setInterval(() => {
        client.images.list({ signal: ctx.signal }).then(
          (items) => {
            const progress = items.find((i) => i.runtime === runtime)?.progress;
            if (building && progress) reporter.update(progress);
          },
          () => undefined,
        );
      }, PROGRESS_POLL_MS);
      const image = await client.images.build(runtime, { signal: ctx.signal }).finally(() => {
        building = false;
        clearInterval(poll);
        reporter.done();
      });
      ctx.result(image, () => {
        const size = image.sizeBytes === null ? '' : `, ${formatBytes(image.sizeBytes)}`;
        return `${image.image} is ${image.present ? 'present' : 'missing'} (runtime ${image.runtime}${size})`;
      });
    });
}
