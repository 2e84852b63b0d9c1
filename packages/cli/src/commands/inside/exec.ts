import type { CommandHandle } from '@berth/sdk';
import type { Command } from 'commander';
import type { CliContext, CliInput } from '../../context.js';
import { collect, parseDuration, parseEnvFlag, type EnvFlag } from '../../parse.js';
import { WORKSPACE_ARG } from '../shared.js';
import { commandExitCode, ignore, onSignals, resolveEnvFlags } from './shared.js';

interface ExecFlags {
  cwd?: string;
  env?: EnvFlag[];
  user?: string;
  timeout?: number;
  shell?: boolean;
  stdin: boolean;
}

const HELP = `
The command runs directly (argv, no shell) unless --shell is given; put -- before it when it has
options of its own. Its stdout and stderr stream to yours as they come. When your stdin is a pipe
or a file it is forwarded and closed at its end; on a terminal the command gets an empty stdin.
Ctrl-C (SIGINT) and SIGTERM are forwarded to the command; a second Ctrl-C kills it with every
process it started.

berth exec exits with the command's exit code (124 when --timeout killed it, as timeout(1)); its
own failures (workspace not found, server unreachable, ...) use the codes of \`berth --help\`.
With --json the command runs to completion and one document is printed:
{"exitCode", "stdout", "stderr", "durationMs", "timedOut", "truncated": {"stdout", "stderr"}}.

Examples:
  $ berth exec agent-1 -- ls -la /workspace
  $ berth exec agent-1 --shell 'npm test && echo ok'
  $ tar c src | berth exec agent-1 -- tar x -C /workspace
  $ berth exec agent-1 --json --timeout 30s -- make build | jq .exitCode`;

export function registerExec(program: Command, ctx: CliContext): void {
  program
    .command('exec')
    .description("Run a command in a workspace, streaming its output; exits with the command's exit code")
    .argument('<workspace>', WORKSPACE_ARG)
    .argument('<command...>', 'program and arguments (after --), or a shell line with --shell')
    .option('--cwd <dir>', 'absolute working directory inside the workspace (default /workspace)')
    .option(
      '-e, --env <KEY=VALUE>',
      'environment variable; KEY alone copies it from your environment (repeatable)',
      collect(parseEnvFlag),
    )
    .option('-u, --user <uid[:gid]>', 'numeric user (and group) to run as; tiers 1-2 refuse 0')
    .option(
      '--timeout <duration>',
      'kill the command after this long: ms, or 30s, 5m, 2h (exit 124)',
      parseDuration,
    )
    .option('-s, --shell', 'run the command words joined by spaces with /bin/sh -c inside the workspace')
    .option('--no-stdin', 'do not forward stdin (the command gets an empty stdin)')
    .addHelpText('after', HELP)
    .action(async (idOrName: string, words: string[], opts: ExecFlags) => {
      const cmd = opts.shell === true ? words.join(' ') : words;
      const base = {
        cwd: opts.cwd,
        env: resolveEnvFlags(opts.env, ctx.env),
        user: opts.user,
        timeoutMs: opts.timeout,
        allowNonZeroExit: true,
        signal: ctx.signal,
      };
      const forward = opts.stdin && ctx.stdin.isTTY !== true;
      const commands = ctx.client().workspaces.ref(idOrName).commands;
      if (ctx.json) {
        const stdin = forward ? await readAll(ctx.stdin) : undefined;
        const result = await commands.run(cmd, { ...base, ...(stdin ? { stdin } : {}) });
        ctx.printJson(result);
        ctx.exitCode = commandExitCode(result);
        return;
      }
      // Output is written as it arrives (a WebSocket cannot be paused; Node buffers a slow pipe).
      const handle = await commands.start(cmd, {
        ...base,
        maxOutputBytes: 0,
        onData: (data, stream) => void (stream === 'stdout' ? ctx.stdout : ctx.stderr).write(data),
      });
      let interrupts = 0;
      const dispose = onSignals({
        SIGINT: () => {
          interrupts++;
          if (interrupts === 1) {
            handle.sendSignal('SIGINT').catch(ignore);
            if (ctx.stderr.isTTY === true)
              ctx.note('\nberth: sent SIGINT; press Ctrl-C again to kill the command');
          } else {
            handle.kill().catch(ignore);
          }
        },
        SIGTERM: () => void handle.sendSignal('SIGTERM').catch(ignore),
        SIGHUP: () => void handle.sendSignal('SIGHUP').catch(ignore),
      });
      const stdin = forward ? pumpStdin(ctx.stdin, handle) : undefined;
      try {
        if (stdin === undefined) await handle.closeStdin();
        const result = await handle.wait();
        ctx.exitCode = commandExitCode(result);
      } finally {
        dispose();
        stdin?.stop();
      }
    });
}

/** All of a (non-TTY) input: `berth exec --json` sends it with the one-shot request. */
async function readAll(input: CliInput): Promise<Uint8Array | undefined> {
  const chunks: Buffer[] = [];
  for await (const chunk of input)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  const all = Buffer.concat(chunks);
  return all.length === 0 ? undefined : new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
}

/** Forwards input to the command's stdin at the socket's pace, then closes it at EOF. */
function pumpStdin(input: CliInput, handle: CommandHandle): { stop(): void } {
  let stopped = false;
  const onData = (chunk: Buffer | string): void => {
    input.pause();
    handle.sendStdin(typeof chunk === 'string' ? chunk : new Uint8Array(chunk)).then(
      () => {
        if (!stopped) input.resume();
      },
      () => stop(),
    );
  };
  const onEnd = (): void => {
    handle.closeStdin().catch(ignore);
    stop();
  };
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    input.off('data', onData);
    input.off('end', onEnd);
    input.off('error', onEnd);
    input.pause();
    // process.stdin keeps the process alive while it has a reader; let go of it.
    if (input === process.stdin) input.destroy();
  };
  input.on('data', onData);
  input.on('end', onEnd);
  input.on('error', onEnd);
  input.resume();
  return { stop };
}
