import type { Command } from 'commander';
import type { CliContext } from '../../context.js';
import { UsageError } from '../../exit-codes.js';
import { collect, parseEnvFlag, type EnvFlag } from '../../parse.js';
import { WORKSPACE_ARG } from '../shared.js';
import { ignore, onSignals, resolveEnvFlags } from './shared.js';

interface ShellFlags {
  cmd?: string;
  cwd?: string;
  env?: EnvFlag[];
}

const HELP = `
Opens a terminal (PTY) in the workspace and connects yours to it in raw mode: every key, Ctrl-C
included, goes to the workspace; the window size follows yours. The terminal is restored when the
shell exits, and berth exits with the shell's exit code. Needs a terminal: for scripts and pipes
use \`berth exec\`. --json is not supported.

Examples:
  $ berth shell agent-1
  $ berth shell agent-1 --cmd bash
  $ berth shell agent-1 -- python3 -q`;

/** Thrown by `berth shell` without a terminal. */
export function notATerminal(): UsageError {
  return new UsageError(
    'berth shell needs an interactive terminal, but stdin is not a TTY; for scripts and pipes use `berth exec <workspace> -- <command>`',
  );
}

export function registerShell(program: Command, ctx: CliContext): void {
  program
    .command('shell')
    .description("Open an interactive terminal in a workspace (exits with the shell's exit code)")
    .argument('<workspace>', WORKSPACE_ARG)
    .argument('[command...]', "program and arguments to run instead of the runtime's shell (after --)")
    .option('--cmd <program>', 'program to run instead of the shell (same as -- <program>)')
    .option('--cwd <dir>', 'absolute working directory inside the workspace (default /workspace)')
    .option(
      '-e, --env <KEY=VALUE>',
      'environment variable; KEY alone copies it from your environment (repeatable)',
      collect(parseEnvFlag),
    )
    .addHelpText('after', HELP)
    .action(async (idOrName: string, words: string[], opts: ShellFlags) => {
      if (ctx.json)
        throw new UsageError('berth shell is interactive and has no --json output; use berth exec --json');
      if (opts.cmd !== undefined && words.length > 0) {
        throw new UsageError('give the program either with --cmd or after --, not both');
      }
      const cmd = opts.cmd !== undefined ? [opts.cmd] : words.length > 0 ? words : undefined;
      const input = ctx.stdin;
      if (input.isTTY !== true || typeof input.setRawMode !== 'function') throw notATerminal();
      const env = resolveEnvFlags(opts.env, ctx.env);
      const output = ctx.stdout;
      const size = () => ({ cols: output.columns || 80, rows: output.rows || 24 });

      const pty = await ctx
        .client()
        .workspaces.ref(idOrName)
        .pty.create({
          ...size(),
          ...(cmd ? { cmd } : {}),
          ...(opts.cwd ? { cwd: opts.cwd } : {}),
          ...(env ? { env } : {}),
          onData: (data) => void output.write(data),
          signal: ctx.signal,
        });
      const onInput = (chunk: Buffer | string): void => {
        pty.sendInput(typeof chunk === 'string' ? chunk : new Uint8Array(chunk)).catch(ignore);
      };
      const setRaw = (on: boolean): void => {
        try {
          input.setRawMode?.(on);
        } catch {
          // the terminal went away
        }
      };
      const dispose = onSignals({
        SIGWINCH: () => {
          const { cols, rows } = size();
          pty.resize(cols, rows).catch(ignore);
        },
        // Not from the keyboard (raw mode): someone wants berth gone. End the shell with it.
        SIGTERM: () => void pty.kill().catch(ignore),
        SIGHUP: () => void pty.kill().catch(ignore),
      });
      setRaw(true);
      input.on('data', onInput);
      input.resume();
      try {
        const { exitCode } = await pty.wait();
        ctx.exitCode = exitCode >= 0 && exitCode <= 255 ? exitCode : 1;
      } finally {
        input.off('data', onInput);
        setRaw(false);
        input.pause();
        dispose();
        if (input === process.stdin) input.destroy();
      }
    });
}
