import type { DaemonOptions } from '@berth/server';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { parseInteger } from '../parse.js';

interface ServeFlags {
  port?: number;
  host?: string;
  config?: string;
  logLevel?: string;
}

/** Resolves on the first SIGINT/SIGTERM (or `signal` abort); a second signal while closing forces exit. */
function untilShutdown(
  signal: AbortSignal | undefined,
  onForce: () => void,
): { done: Promise<string>; dispose(): void } {
  let requested = false;
  let resolveDone: (why: string) => void = () => undefined;
  const done = new Promise<string>((resolve) => {
    resolveDone = resolve;
  });
  const onSignal = (name: string): void => {
    if (requested) {
      onForce();
      return;
    }
    requested = true;
    resolveDone(name);
  };
  const onInt = (): void => onSignal('SIGINT');
  const onTerm = (): void => onSignal('SIGTERM');
  const onAbort = (): void => onSignal('abort');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  return {
    done,
    dispose: () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}

export function registerServe(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('Run the Berth daemon (HTTP API + workspace lifecycle) in the foreground until Ctrl-C')
    .option('--port <port>', 'TCP port to listen on; 0 picks a free one (default 7420)', (v) =>
      parseInteger(v, 0, 65535),
    )
    .option('--host <host>', 'address to bind (default 127.0.0.1)')
    .option('--config <file>', 'configuration file (values from env and flags override it)')
    .option('--log-level <level>', 'log level: trace, debug, info, warn, error, fatal (default info)')
    .addHelpText(
      'after',
      '\nThe global --data-dir (or BERTH_DATA_DIR) selects the data directory; on first start the daemon\n' +
        'writes an admin token to <data-dir>/admin-token, which local berth commands use automatically.\n' +
        'With --json, prints {"url": ...} on stdout once the API listens.',
    )
    .action(async (opts: ServeFlags) => {
      // Imported lazily so every other command starts without loading the daemon.
      const { runDaemon, DaemonAborted } = await import('@berth/server');
      const options: DaemonOptions = {
        env: ctx.env,
        // Start-up lines are for humans: stdout normally, stderr with --json (stdout holds one document).
        print: (line) => (ctx.json ? ctx.note(line) : ctx.out(line)),
      };
      if (opts.port !== undefined) options.port = opts.port;
      if (opts.host !== undefined) options.host = opts.host;
      if (ctx.globals.dataDir !== undefined) options.dataDir = ctx.globals.dataDir;
      if (opts.config !== undefined) options.configPath = opts.config;
      if (opts.logLevel !== undefined) options.logLevel = opts.logLevel;

      const shutdown = untilShutdown(ctx.signal, () => {
        ctx.note('berth: second signal, exiting without waiting for shutdown');
        process.exit(1);
      });
      // A standby waiting for another server's lease stops on the first signal too.
      const starting = new AbortController();
      void shutdown.done.then(() => starting.abort());
      options.signal = starting.signal;
      try {
        let daemon;
        try {
          daemon = await runDaemon(options);
        } catch (err) {
          if (!(err instanceof DaemonAborted)) throw err;
          ctx.note('berth: stopped while waiting for the reconciler lease');
          return;
        }
        if (ctx.json) ctx.printJson({ url: daemon.url });
        const why = await Promise.race([shutdown.done, daemon.lost.then((holder) => ({ lostTo: holder }))]);
        if (typeof why === 'object') {
          ctx.note(`berth: another server (${why.lostTo}) took over this store; stopped`);
          process.exitCode = 1;
          return;
        }
        ctx.note(`berth: ${why === 'abort' ? 'stop requested' : why}, shutting down`);
        await daemon.close();
      } finally {
        shutdown.dispose();
      }
    });
}
