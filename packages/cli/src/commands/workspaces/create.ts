import { readFileSync } from 'node:fs';
import { EGRESS_MODES, WORKSPACE_ACCESS } from '@berth/protocol';
import { Option, type Command } from 'commander';
import type { CliContext } from '../../context.js';
import { ProgressReporter } from '../../format/progress.js';
import { renderWorkspaceDetails } from '../../format/workspace.js';
import {
  collect,
  parseEnvFlag,
  parseFileSpec,
  parseInteger,
  parseKeyValue,
  parsePortSpec,
  parsePositiveNumber,
  parseTier,
} from '../../parse.js';
import { NO_WAIT } from '../shared.js';
import { buildSpec, type CreateFlags } from './spec.js';

interface CreateOptions extends CreateFlags {
  idempotencyKey?: string;
  wait: boolean;
  quiet?: boolean;
}

const EXAMPLES = `
Examples:
  $ berth create                                   # shell runtime, generated name, tier 2
  $ berth create agent-1 --runtime claude-code --grant anthropic --model claude-sonnet-4-5 --build
  $ berth create reviewer --runtime codex --grant openai --mcp docs=https://mcp.example.com/mcp
  $ berth create web --port 3000:web --memory 2048 --cpus 1.5 --env-file .env
  $ berth create rw --workspace-dir ~/src/project --access read_only
  $ berth create cfg --file config.yaml=@./config.yaml --file motd.txt='hello'
  $ berth create job --idempotency-key "$CI_JOB_ID" --json | jq -r .id
  $ berth create slow --no-wait && berth get slow
  $ berth create coder --grant anthropic --allow registry.npmjs.org   # egress through the gateway only

Progress (image pulls and builds) is shown on stderr while the workspace provisions. A workspace
that ends in status failed prints its error code and message and exits 8; it is kept for inspection
(berth get <id>) until you remove it (berth rm <id>).`;

export function registerCreate(program: Command, ctx: CliContext): void {
  program
    .command('create')
    .description('Create a workspace and wait until it is running')
    .argument('[name]', 'workspace name: a DNS label [a-z0-9-], 1-63 chars (generated when omitted)')
    .option('--runtime <runtime>', 'runtime from the catalogue, see `berth runtimes` (default shell)')
    .option('--image <image>', "image to run instead of the runtime's default image")
    .option(
      '--tier <1-4>',
      'isolation tier: 1 sandboxed, 2 standard (default), 3 privileged, 4 full host',
      parseTier,
    )
    .option(
      '-e, --env <KEY=VALUE>',
      'environment variable; KEY alone copies it from your environment (repeatable)',
      collect(parseEnvFlag),
    )
    .option('--env-file <file>', 'read KEY=VALUE lines from a file (-e wins on conflicts)')
    .option(
      '--workspace-dir <path>',
      'host directory to mount at /workspace instead of an isolated volume (relative: from the current dir)',
    )
    .addOption(
      new Option('--access <mode>', '/workspace access mode (default read_write)').choices(WORKSPACE_ACCESS),
    )
    .option(
      '-p, --port <port[:name]>',
      'extra container port to publish on 127.0.0.1, optionally named (repeatable)',
      collect(parsePortSpec),
    )
    .option('--memory <MB>', 'memory limit in megabytes', (v) => parseInteger(v, 1))
    .option('--cpus <n>', 'CPU limit, fractions allowed (e.g. 0.5)', parsePositiveNumber)
    .option('--pids <n>', 'maximum number of processes', (v) => parseInteger(v, 1))
    .option(
      '-l, --label <key=value>',
      'label to attach, filterable with `berth ls -l` (repeatable)',
      collect(parseKeyValue),
    )
    .option(
      '--file <path=@localfile|path=text>',
      'file to write into /configs: from a local file (@) or literal text (repeatable)',
      collect(parseFileSpec),
    )
    .option('--template <name>', 'config template (server templates directory) copied into /configs first')
    .addOption(
      new Option(
        '--egress <mode>',
        'where it may connect: none, allowlist (through the egress gateway) or open (default: none on tier 1, open on tier 2, allowlist with --allow or --grant)',
      ).choices(EGRESS_MODES),
    )
    .option(
      '--allow <host[:port]>',
      'egress allow rule: host or *.suffix, optional :port (repeatable)',
      collect(String),
    )
    .option('--deny <host[:port]>', 'egress deny rule, wins over allow (repeatable)', collect(String))
    .option(
      '--grant <grant>',
      'credential the gateway injects: anthropic, openai, github, or name=host[,host]:header:SECRET[:prefix] (repeatable)',
      collect(String),
    )
    .option(
      '--secret-env <KEY=secret>',
      "env var filled from a secret in the workspace's processes (never the container config) (repeatable)",
      collect(parseKeyValue),
    )
    .option(
      '--build',
      "build the runtime's image first when it is missing (else the create fails with the command)",
    )
    .option('--model <model>', 'agent CLI runtimes: the model their generated config names')
    .option(
      '--instructions <text|@file>',
      'agent CLI runtimes: global instructions (CLAUDE.md, AGENTS.md, GEMINI.md)',
    )
    .option(
      '--mcp <name=url|name=command args>',
      'agent CLI runtimes: an MCP server for the generated config (repeatable)',
      collect(String),
    )
    .option(
      '--agent-config <file>',
      'agent CLI runtimes: a JSON file with model, instructions and mcpServers',
    )
    .option('--idempotency-key <key>', 'retry-safe create: the same key and spec return the first result')
    .option('--no-wait', `${NO_WAIT} (prints the provisioning workspace)`)
    .option('-q, --quiet', 'do not show progress on stderr')
    .addHelpText('after', EXAMPLES)
    .action(async (name: string | undefined, opts: CreateOptions) => {
      const spec = buildSpec(name, opts, {
        env: ctx.env,
        cwd: ctx.cwd,
        readFile: (path) => readFileSync(path),
      });
      const workspaces = ctx.client().workspaces;
      const base = { idempotencyKey: opts.idempotencyKey, signal: ctx.signal };
      if (!opts.wait) {
        const ws = await workspaces.create(spec, { ...base, wait: false });
        ctx.result(ws.data, () => renderWorkspaceDetails(ws.data, ctx.now()));
        return;
      }
      const reporter = opts.quiet === true ? undefined : new ProgressReporter(ctx.stderr);
      try {
        const ws = await workspaces.create(spec, {
          ...base,
          ...(reporter ? { onProgress: (p) => reporter.update(p) } : {}),
        });
        reporter?.done();
        ctx.result(ws.data, () => renderWorkspaceDetails(ws.data, ctx.now()));
      } finally {
        reporter?.done();
      }
    });
}
