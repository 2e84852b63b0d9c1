import type { EgressUpdate, Workspace } from '@berth/protocol';
import type { Command } from 'commander';
import type { CliContext } from '../../context.js';
import { collect } from '../../parse.js';
import { WORKSPACE_ARG } from '../shared.js';
import { parseGrant } from './spec.js';

interface EgressOptions {
  allow?: string[];
  deny?: string[];
  grant?: string[];
  clearAllow?: boolean;
  clearDeny?: boolean;
  clearGrants?: boolean;
}

/** The egress part of a workspace, for humans. */
export function renderEgress(ws: Workspace): string {
  const lines = [`egress of ${ws.name} (${ws.id}): ${ws.egress.mode}`];
  if (ws.egress.allow.length > 0) lines.push(`  allow   ${ws.egress.allow.join(', ')}`);
  if (ws.egress.deny.length > 0) lines.push(`  deny    ${ws.egress.deny.join(', ')}`);
  for (const g of ws.grants)
    lines.push(`  grant   ${g.name}: ${g.header} on ${g.hosts.join(', ')} from secret ${g.secret}`);
  return lines.join('\n');
}

/**
 * `berth egress <workspace>`: shows the egress policy; with flags, replaces rule lists or grants in
 * place (the gateway applies them to the next connection; the container is kept).
 */
export function registerEgress(program: Command, ctx: CliContext): void {
  program
    .command('egress')
    .description("Show or change a workspace's egress rules and grants (in place, no restart)")
    .argument('<workspace>', WORKSPACE_ARG)
    .option('--allow <host[:port]>', 'replace the allow rules with these (repeatable)', collect(String))
    .option('--deny <host[:port]>', 'replace the deny rules with these (repeatable)', collect(String))
    .option(
      '--grant <grant>',
      'replace the grants with these (repeatable; see berth create --help)',
      collect(String),
    )
    .option('--clear-allow', 'remove every allow rule')
    .option('--clear-deny', 'remove every deny rule')
    .option('--clear-grants', 'remove every grant')
    .addHelpText(
      'after',
      `
Examples:
  $ berth egress agent-1                                  # show
  $ berth egress agent-1 --allow registry.npmjs.org --allow '*.pypi.org'
  $ berth egress agent-1 --deny pastebin.com --grant anthropic`,
    )
    .action(async (idOrName: string, opts: EgressOptions) => {
      const update: EgressUpdate = {};
      if (opts.clearAllow) update.allow = [];
      if (opts.allow) update.allow = opts.allow;
      if (opts.clearDeny) update.deny = [];
      if (opts.deny) update.deny = opts.deny;
      if (opts.clearGrants) update.grants = [];
      if (opts.grant) update.grants = opts.grant.map(parseGrant);
      const workspaces = ctx.client().workspaces;
      const ws =
        Object.keys(update).length > 0
          ? await workspaces.updateEgress(idOrName, update, { signal: ctx.signal })
          : await workspaces.get(idOrName, { signal: ctx.signal });
      ctx.result(ws.data, () => renderEgress(ws.data));
    });
}
