import type { Command } from 'commander';
import type { CliContext } from '../../context.js';
import { formatStatus } from '../../format/workspace.js';
import { NO_WAIT, WORKSPACE_ARG } from '../shared.js';

const ACTIONS = {
  stop: { description: 'Stop a workspace (its /workspace data is kept)', done: 'stopped' },
  start: { description: 'Start a stopped workspace (exit 8 if it ends failed)', done: 'started' },
  restart: { description: 'Restart a workspace (exit 8 if it ends failed)', done: 'restarted' },
} as const;

/** `berth stop|start|restart <workspace>`. */
export function registerLifecycle(program: Command, ctx: CliContext, action: keyof typeof ACTIONS): void {
  program
    .command(action)
    .description(ACTIONS[action].description)
    .argument('<workspace>', WORKSPACE_ARG)
    .option('--no-wait', NO_WAIT)
    .action(async (idOrName: string, opts: { wait: boolean }) => {
      const ws = await ctx.client().workspaces[action](idOrName, { wait: opts.wait, signal: ctx.signal });
      const verb = opts.wait ? ACTIONS[action].done : `${action} requested for`;
      ctx.result(ws.data, () => `${verb} ${ws.name} (${ws.id}): ${formatStatus(ws.data)}`);
    });
}

/** `berth keepalive <workspace>`: activity now, so the idle timeout starts over. */
export function registerKeepalive(program: Command, ctx: CliContext): void {
  program
    .command('keepalive')
    .description(
      'Record activity on a running workspace: its idle timeout starts over (exit 4 if not running)',
    )
    .argument('<workspace>', WORKSPACE_ARG)
    .action(async (idOrName: string) => {
      const ws = await ctx.client().workspaces.keepalive(idOrName, { signal: ctx.signal });
      ctx.result(ws.data, () => `kept ${ws.name} (${ws.id}) alive: ${formatStatus(ws.data)}`);
    });
}
