import type { ImageInfo } from '@berth/protocol';
import type { Command } from 'commander';
import type { CliContext } from '../../context.js';
import { ProgressReporter } from '../../format/progress.js';
import { renderTable } from '../../format/table.js';
import { formatBytes } from '../../format/units.js';

interface Outcome {
  runtime: string;
  image: ImageInfo | null;
  error: string | null;
}

export function registerImagesBuild(images: Command, ctx: CliContext): void {
  images
    .command('build')
    .description(
      "Build (or pull) a runtime's image now, so the first create does not wait for it; `all` builds every image Berth has a recipe for",
    )
    .argument('<runtime>', 'runtime name (see `berth runtimes`), or all')
    .action(async (runtime: string) => {
      const client = ctx.client();
      const names =
        runtime === 'all'
          ? (await client.runtimes.list({ signal: ctx.signal }))
              .filter((r) => r.source === 'build')
              .map((r) => r.name)
          : [runtime];
      const outcomes: Outcome[] = [];
      for (const name of names) {
        ctx.note(`building the image of runtime ${name}; this can take a few minutes`);
        try {
          outcomes.push({ runtime: name, image: await buildOne(ctx, name), error: null });
        } catch (err) {
          // One runtime: its error is the command's. All: say which failed and go on.
          if (runtime !== 'all') throw err;
          ctx.fail(err, { subject: `runtime ${name}` });
          outcomes.push({
            runtime: name,
            image: null,
            error: err instanceof Error ? err.message : String(err),
          });
        }
      }
      if (runtime !== 'all') {
        const image = outcomes[0]!.image!;
        ctx.result(image, () => {
          const size = image.sizeBytes === null ? '' : `, ${formatBytes(image.sizeBytes)}`;
          return `${image.image} is ${image.present ? 'present' : 'missing'} (runtime ${image.runtime}${size})`;
        });
        return;
      }
      ctx.result({ items: outcomes }, () =>
        renderTable(
          ['RUNTIME', 'IMAGE', 'RESULT'],
          outcomes.map((o) => [
            o.runtime,
            o.image?.image ?? '-',
            o.error === null
              ? `built${o.image?.sizeBytes ? `, ${formatBytes(o.image.sizeBytes)}` : ''}`
              : 'failed',
          ]),
        ),
      );
    });
}

/** Builds one runtime's image, showing its progress (followed without holding a request open). */
async function buildOne(ctx: CliContext, runtime: string): Promise<ImageInfo> {
  const reporter = new ProgressReporter(ctx.stderr);
  try {
    return await ctx.client().images.build(runtime, {
      signal: ctx.signal,
      onProgress: (p) => reporter.update(p),
    });
  } finally {
    reporter.done();
  }
}
