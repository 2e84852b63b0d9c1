import type { Command } from 'commander';
import type { CliContext } from '../../context.js';
import { parseDuration, parseInteger } from '../../parse.js';
import { WORKSPACE_ARG } from '../shared.js';

export function registerPreview(program: Command, ctx: CliContext): void {
  program
    .command('preview')
    .description('Print a browser URL for a declared port of a workspace (no API token needed to open it)')
    .argument('<workspace>', WORKSPACE_ARG)
    .argument('<port>', 'a port declared at create (--port)', (v) => parseInteger(v, 1, 65535))
    .option(
      '--ttl <duration>',
      'how long the URL works: ms, or 30m, 2h (default and cap: the server maximum, 24h)',
      parseDuration,
    )
    .addHelpText(
      'after',
      '\nOpening the URL once trades its token for a cookie scoped to that port, so the app works in the\n' +
        'browser until the token expires. Programs can instead call\n' +
        '<url>/v1/workspaces/<id>/ports/<port>/ with the API token. --json prints\n' +
        '{"url", "path", "token", "expiresAt"}.',
    )
    .action(async (idOrName: string, port: number, opts: { ttl?: number }) => {
      const preview = await ctx
        .client()
        .workspaces.ref(idOrName)
        .getPreviewUrl(port, { ...(opts.ttl !== undefined ? { ttlMs: opts.ttl } : {}), signal: ctx.signal });
      if (ctx.json) {
        ctx.printJson(preview);
        return;
      }
      ctx.out(preview.url);
      ctx.note(`expires at ${preview.expiresAt}`);
    });
}
