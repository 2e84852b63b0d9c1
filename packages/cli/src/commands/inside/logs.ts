import type { LogLine } from '@berth/sdk';
import type { Command } from 'commander';
import type { CliContext } from '../../context.js';
import { parseInteger, parseSince } from '../../parse.js';
import { WORKSPACE_ARG } from '../shared.js';
import { onSignals } from './shared.js';

interface LogsFlags {
  follow?: boolean;
  tail?: number;
  timestamps?: boolean;
  since?: number;
}

const HELP = `
Lines the workspace's process wrote to stdout go to stdout, those to stderr to stderr. With
--json, every line is printed as it comes as one JSON document per line (NDJSON, unlike other
commands): {"stream": "stdout"|"stderr", "text": "...", "time": "..." (with -t)}.
With -f, new lines stream until the workspace stops or you press Ctrl-C (exit 0).

Examples:
  $ berth logs agent-1 -n 50
  $ berth logs agent-1 -f -t --since 10m
  $ berth logs agent-1 --json | jq -r 'select(.stream == "stderr") | .text'`;

/** One log line as text: `[time ]text`. */
export function formatLogLine(line: LogLine, timestamps: boolean): string {
  return `${timestamps && line.time ? `${line.time} ` : ''}${line.text}\n`;
}

export function registerLogs(program: Command, ctx: CliContext): void {
  program
    .command('logs')
    .description("Print a workspace's output (its main process's stdout and stderr)")
    .argument('<workspace>', WORKSPACE_ARG)
    .option('-f, --follow', 'keep printing new lines until the workspace stops or Ctrl-C')
    .option('-n, --tail <n>', 'only the last n lines', (v) => parseInteger(v, 0))
    .option('-t, --timestamps', "prefix each line with the engine's RFC 3339 time")
    .option('--since <time>', 'only lines since: Unix seconds, an ISO time, or an age (10m, 2h, 1d)', (v) =>
      parseSince(v, ctx.now),
    )
    .addHelpText('after', HELP)
    .action(async (idOrName: string, opts: LogsFlags) => {
      const stop = new AbortController();
      const signal = ctx.signal ? AbortSignal.any([ctx.signal, stop.signal]) : stop.signal;
      const dispose =
        opts.follow === true
          ? onSignals({ SIGINT: () => stop.abort(), SIGTERM: () => stop.abort() })
          : () => {};
      const timestamps = opts.timestamps === true;
      try {
        const lines = ctx
          .client()
          .workspaces.ref(idOrName)
          .logLines({
            follow: opts.follow === true,
            tail: opts.tail,
            timestamps,
            since: opts.since,
            signal,
          });
        for await (const line of lines) {
          if (ctx.json) await ctx.write(ctx.stdout, `${JSON.stringify(line)}\n`);
          else
            await ctx.write(
              line.stream === 'stderr' ? ctx.stderr : ctx.stdout,
              formatLogLine(line, timestamps),
            );
        }
      } catch (err) {
        // Ctrl-C (or the caller's abort) ends a follow; that is not an error.
        if (signal.aborted) return;
        throw err;
      } finally {
        dispose();
      }
    });
}
