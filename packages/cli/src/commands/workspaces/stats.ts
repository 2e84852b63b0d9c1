import type { WorkspaceStats } from '@berth/protocol';
import type { Command } from 'commander';
import type { CliContext } from '../../context.js';
import { renderKeyValues } from '../../format/table.js';
import { formatBytes } from '../../format/units.js';
import { WORKSPACE_ARG } from '../shared.js';

const of = (used: number, limit: number | null, show: (n: number) => string): string =>
  limit === null ? show(used) : `${show(used)} of ${show(limit)} (${((used / limit) * 100).toFixed(1)}%)`;

/** The `berth stats` view. */
export function renderStats(stats: WorkspaceStats): string {
  return renderKeyValues([
    ['CPU', `${stats.cpu.percent.toFixed(1)}% (100% = one CPU; ${stats.cpu.onlineCpus} online)`],
    ['Memory', of(stats.memory.usageBytes, stats.memory.limitBytes, formatBytes)],
    ['Pids', of(stats.pids.current, stats.pids.limit, String)],
    ['Network', `${formatBytes(stats.network.rxBytes)} received, ${formatBytes(stats.network.txBytes)} sent`],
    ['At', stats.at],
  ]);
}

/** `berth stats <workspace>`: one sample of a running workspace's resource use. */
export function registerStats(program: Command, ctx: CliContext): void {
  program
    .command('stats')
    .description(
      "Show a running workspace's CPU, memory, pids and network use, one sample (exit 4 if not running)",
    )
    .argument('<workspace>', WORKSPACE_ARG)
    .action(async (idOrName: string) => {
      const stats = await ctx.client().workspaces.stats(idOrName, { signal: ctx.signal });
      ctx.result(stats, () => renderStats(stats));
    });
}
