import type { WorkspaceEvent } from '@berth/protocol';
import type { Berth } from '@berth/sdk';
import { InvalidArgumentError, type Command } from 'commander';
import type { CliContext } from '../../context.js';
import { UsageError } from '../../exit-codes.js';
import { renderEventTable } from '../../format/workspace.js';
import { renderTable } from '../../format/table.js';
import { parseInteger } from '../../parse.js';
import { onSignals } from '../inside/shared.js';
import { WORKSPACE_ARG } from '../shared.js';

interface EventsFlags {
  after?: number | 'now';
  limit?: number;
  all?: boolean;
  follow?: boolean;
}

const HELP = `
Without a workspace: the events of every workspace you may see (admin tokens: all; user tokens:
their own), deleted ones included. With -f, the history after --after is printed, then new events
as they happen, until Ctrl-C (exit 0); a following of one workspace ends after it is deleted. The
stream reconnects by itself when the server restarts, without skipping or repeating events. With
--json and -f, every event is printed as it comes as one JSON document per line (NDJSON, unlike
other commands).

Examples:
  $ berth events agent-1
  $ berth events -f --after now
  $ berth events -f --json | jq -r 'select(.type == "workspace.failed") | .message'`;

/** `--after`: an event id, or `now` (with -f). */
function parseAfter(raw: string): number | 'now' {
  if (raw.trim() === 'now') return 'now';
  try {
    return parseInteger(raw, 0);
  } catch {
    throw new InvalidArgumentError(
      `expected an event id (a whole number >= 0) or now, got ${JSON.stringify(raw)}`,
    );
  }
}

/** Workspace names by id for display, looked up once each; a workspace that is gone shows its id. */
function nameResolver(client: Berth, signal: AbortSignal | undefined): (id: string) => Promise<string> {
  const names = new Map<string, Promise<string>>();
  return (id) => {
    let name = names.get(id);
    if (name === undefined) {
      name = client.workspaces.get(id, { signal }).then(
        (ws) => ws.name,
        () => id,
      );
      names.set(id, name);
    }
    return name;
  };
}

/** One followed event as a line: time, workspace, type, status, message. */
export function formatEventLine(event: WorkspaceEvent, workspace: string): string {
  return `${event.at}  ${workspace}  ${event.type}  ${event.status ?? '-'}  ${event.message}\n`;
}

export function registerEvents(program: Command, ctx: CliContext): void {
  program
    .command('events')
    .description(
      'Show workspace events (status changes, progress, errors), oldest first: of one workspace or of all; -f follows them live',
    )
    .argument('[workspace]', `${WORKSPACE_ARG} (default: every workspace)`)
    .option('-f, --follow', 'keep printing events as they happen until Ctrl-C')
    .option('--after <id>', 'only events with an id greater than this (with -f also: now)', parseAfter)
    .option('--limit <n>', 'page size (without -f)', (v) => parseInteger(v, 1))
    .option('--all', 'page through every event (without -f)')
    .addHelpText('after', HELP)
    .action(async (idOrName: string | undefined, opts: EventsFlags) => {
      if (opts.follow === true) {
        await follow(ctx, idOrName, opts);
        return;
      }
      if (opts.after === 'now') throw new UsageError('--after now needs -f (there is nothing after now yet)');
      const client = ctx.client();
      const query = { after: opts.after, limit: opts.limit, signal: ctx.signal };
      const page = (after: number | undefined) =>
        idOrName === undefined
          ? client.events.list({ ...query, after })
          : client.workspaces.events(idOrName, { ...query, after });
      const items: WorkspaceEvent[] = [];
      let nextCursor: number | null;
      let after = opts.after;
      do {
        const result = await page(after);
        items.push(...result.items);
        nextCursor = result.nextCursor;
        after = nextCursor ?? undefined;
      } while (opts.all === true && nextCursor !== null);
      if (ctx.json) {
        ctx.printJson({ items, nextCursor });
        return;
      }
      if (idOrName !== undefined) {
        ctx.out(renderEventTable(items));
      } else {
        const nameOf = nameResolver(client, ctx.signal);
        const names = await Promise.all(items.map((e) => nameOf(e.workspaceId)));
        ctx.out(
          renderTable(
            ['ID', 'TIME', 'WORKSPACE', 'TYPE', 'STATUS', 'MESSAGE'],
            items.map((e, i) => [
              String(e.id),
              e.at,
              names[i] ?? e.workspaceId,
              e.type,
              e.status ?? '-',
              e.message,
            ]),
          ),
        );
      }
      if (nextCursor !== null) {
        ctx.note(
          `more events: berth events ${idOrName ? `${idOrName} ` : ''}--after ${nextCursor} (or --all)`,
        );
      }
    });
}

/** `-f`: the stream, one line (or NDJSON document) per event, until Ctrl-C or the workspace is deleted. */
async function follow(ctx: CliContext, idOrName: string | undefined, opts: EventsFlags): Promise<void> {
  if (opts.all === true || opts.limit !== undefined)
    throw new UsageError('--all and --limit page; -f streams');
  const stop = new AbortController();
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, stop.signal]) : stop.signal;
  const dispose = onSignals({ SIGINT: () => stop.abort(), SIGTERM: () => stop.abort() });
  const client = ctx.client();
  const options = {
    after: opts.after,
    signal,
    onReconnect: ({ attempt, delayMs, error }: { attempt: number; delayMs: number; error: unknown }) => {
      if (attempt === 1 || attempt % 10 === 0) {
        const why = error instanceof Error ? error.message : String(error);
        ctx.note(`event stream interrupted (${why}); reconnecting in ${delayMs} ms`);
      }
    },
  };
  const nameOf = nameResolver(client, signal);
  try {
    const events =
      idOrName === undefined
        ? client.events.stream(options)
        : client.workspaces.streamEvents(idOrName, options);
    for await (const event of events) {
      if (ctx.json) await ctx.write(ctx.stdout, `${JSON.stringify(event)}\n`);
      else await ctx.write(ctx.stdout, formatEventLine(event, await nameOf(event.workspaceId)));
    }
  } catch (err) {
    // Ctrl-C (or the caller's abort) ends a follow; that is not an error.
    if (signal.aborted) return;
    throw err;
  } finally {
    dispose();
  }
}
