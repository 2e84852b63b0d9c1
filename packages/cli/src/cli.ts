import { createRequire } from 'node:module';
import { DEFAULT_URL } from '@berth/protocol';
import { Command, CommanderError } from 'commander';
import { registerCp } from './commands/inside/cp.js';
import { registerExec } from './commands/inside/exec.js';
import { registerFiles } from './commands/inside/files.js';
import { registerLogs } from './commands/inside/logs.js';
import { registerPreview } from './commands/inside/preview.js';
import { registerShell } from './commands/inside/shell.js';
import { registerSecretsList } from './commands/secrets/list.js';
import { registerSecretsRekey } from './commands/secrets/rekey.js';
import { registerSecretsRemove } from './commands/secrets/remove.js';
import { registerSecretsSet } from './commands/secrets/set.js';
import { registerTokensCreate } from './commands/tokens/create.js';
import { registerTokensList } from './commands/tokens/list.js';
import { registerTokensRemove } from './commands/tokens/remove.js';
import { registerImagesBuild } from './commands/images/build.js';
import { registerImagesList } from './commands/images/list.js';
import { registerRuntimes } from './commands/runtimes.js';
import { registerServe } from './commands/serve.js';
import { registerSystem } from './commands/system.js';
import { registerCreate } from './commands/workspaces/create.js';
import { registerEgress } from './commands/workspaces/egress.js';
import { registerEvents } from './commands/workspaces/events.js';
import { registerGet } from './commands/workspaces/get.js';
import { registerKeepalive, registerLifecycle } from './commands/workspaces/lifecycle.js';
import { registerList } from './commands/workspaces/list.js';
import { registerRemove } from './commands/workspaces/remove.js';
import { registerStats } from './commands/workspaces/stats.js';
import { CliContext, type RunCliOptions } from './context.js';
import { errorDocument } from './errors.js';
import { EXIT, EXIT_CODES_HELP, exitCodeFor } from './exit-codes.js';

export type { RunCliOptions, TextOutput } from './context.js';
export { EXIT } from './exit-codes.js';

const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

const EPILOGUE = `
Environment:
  BERTH_URL       API URL (default ${DEFAULT_URL})
  BERTH_TOKEN     API token
  BERTH_DATA_DIR  data directory (default $XDG_DATA_HOME/berth, else ~/.local/share/berth)
  BERTH_DEBUG     print stack traces of unexpected errors

Token: --token, else BERTH_TOKEN, else <data-dir>/admin-token when that file exists and is
readable (the admin token \`berth serve\` writes; convenient on the server host).

Output: tables and text on stdout. With --json every command prints exactly one JSON document on
stdout: the resource, or {"error": {"code", "message", "requestId"}}. Progress and logs go to stderr.
Exceptions: \`logs --json\` prints one document per log line (NDJSON); \`files cat\`, \`cp ... -\` and
\`exec\` (without --json) write raw bytes; \`shell\` is interactive and has no --json.

${EXIT_CODES_HELP}`;

/** Builds the command tree; every command writes through `ctx`. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('berth');
  program
    .description('Berth: isolated container workspaces for AI agents. Talks to a Berth server over HTTP.')
    .version(VERSION, '-V, --version', 'print the berth version')
    .option('--url <url>', `server API URL (env BERTH_URL; default ${DEFAULT_URL})`)
    .option('--token <token>', 'API token (env BERTH_TOKEN; else <data-dir>/admin-token)')
    .option(
      '--data-dir <dir>',
      'data directory: the token fallback, and where `serve` keeps state (env BERTH_DATA_DIR)',
    )
    .option('--json', 'print exactly one JSON document on stdout (errors too)')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
      getOutHelpWidth: () => ctx.stdout.columns ?? 100,
      getErrHelpWidth: () => ctx.stderr.columns ?? 100,
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    })
    .addHelpText('after', EPILOGUE);
  ctx.attach(program);

  program.commandsGroup('Workspaces:');
  registerCreate(program, ctx);
  registerList(program, ctx);
  registerGet(program, ctx);
  registerLifecycle(program, ctx, 'stop');
  registerLifecycle(program, ctx, 'start');
  registerLifecycle(program, ctx, 'restart');
  registerKeepalive(program, ctx);
  registerStats(program, ctx);
  registerEgress(program, ctx);
  registerRemove(program, ctx);
  registerEvents(program, ctx);

  program.commandsGroup('Inside a workspace:');
  registerExec(program, ctx);
  registerShell(program, ctx);
  registerLogs(program, ctx);
  registerFiles(program, ctx);
  registerCp(program, ctx);
  registerPreview(program, ctx);

  program.commandsGroup('Server:');
  registerRuntimes(program, ctx);
  const images = program.command('images').description('Runtime images: list, build');
  registerImagesList(images, ctx);
  registerImagesBuild(images, ctx);
  const tokens = program.command('tokens').description('API tokens: create, list, revoke (admin)');
  registerTokensCreate(tokens, ctx);
  registerTokensList(tokens, ctx);
  registerTokensRemove(tokens, ctx);
  const secrets = program
    .command('secrets')
    .description('Secrets: set, list, remove, rekey (values are write-only)');
  registerSecretsSet(secrets, ctx);
  registerSecretsList(secrets, ctx);
  registerSecretsRemove(secrets, ctx);
  registerSecretsRekey(secrets, ctx);
  registerSystem(program, ctx);
  registerServe(program, ctx);
  return program;
}

/**
 * Runs the CLI in-process and returns the exit code (never calls `process.exit`, except on a second
 * Ctrl-C during `serve` shutdown). `argv` excludes node and the script: `runCli(['ls', '--json'])`.
 */
export async function runCli(argv: readonly string[], options: RunCliOptions = {}): Promise<number> {
  const ctx = new CliContext(options);
  const program = buildProgram(ctx);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed the help or the usage message to stderr.
      const code = exitCodeFor(err);
      if (code !== EXIT.ok && (ctx.json || argv.includes('--json'))) ctx.printJson(errorDocument(err));
      return code;
    }
    ctx.fail(err);
    return ctx.exitCode;
  }
}
