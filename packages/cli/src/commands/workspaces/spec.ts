import type {
  AgentConfigInput,
  ConfigFileInput,
  EgressMode,
  GrantInput,
  McpServerInput,
  PortInput,
  Tier,
  WorkspaceAccess,
  WorkspaceSpecInput,
} from '@berth/protocol';
import { isAbsolute, resolve } from 'node:path';
import { UsageError } from '../../exit-codes.js';
import { parseEnvFile, type EnvFlag, type FileSpec } from '../../parse.js';

/** The parsed flags of `berth create`. */
export interface CreateFlags {
  runtime?: string;
  image?: string;
  tier?: Tier;
  env?: EnvFlag[];
  envFile?: string;
  workspaceDir?: string;
  access?: WorkspaceAccess;
  port?: PortInput[];
  memory?: number;
  cpus?: number;
  pids?: number;
  label?: [string, string][];
  file?: FileSpec[];
  template?: string;
  egress?: EgressMode;
  allow?: string[];
  deny?: string[];
  grant?: string[];
  secretEnv?: [string, string][];
  build?: boolean;
  model?: string;
  instructions?: string;
  mcp?: string[];
  agentConfig?: string;
}

/** What building a spec needs from the outside world (injected so it is testable on plain values). */
export interface SpecDeps {
  /** The caller's environment, for `-e KEY` without a value. */
  env: Record<string, string | undefined>;
  cwd: string;
  /** Reads a local file (relative paths already resolved against `cwd`). */
  readFile(path: string): Uint8Array;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Local file content for `/configs`: UTF-8 text as a string, anything else base64. */
export function fileContent(bytes: Uint8Array): ConfigFileInput {
  try {
    return utf8.decode(bytes);
  } catch {
    return { content: Buffer.from(bytes).toString('base64'), encoding: 'base64' };
  }
}

function read(deps: SpecDeps, path: string, what: string): Uint8Array {
  try {
    return deps.readFile(resolve(deps.cwd, path));
  } catch (err) {
    const reason = err instanceof Error && 'code' in err ? String(err.code) : 'unreadable';
    throw new UsageError(`cannot read ${what} ${path} (${reason})`);
  }
}

/** Turns `berth create` arguments into the `WorkspaceSpecInput` body; only given fields are set. */
export function buildSpec(name: string | undefined, flags: CreateFlags, deps: SpecDeps): WorkspaceSpecInput {
  const spec: WorkspaceSpecInput = {};
  if (name !== undefined) spec.name = name;
  if (flags.runtime !== undefined) spec.runtime = flags.runtime;
  if (flags.image !== undefined) spec.image = flags.image;
  if (flags.tier !== undefined) spec.tier = flags.tier;

  const env: Record<string, string> = {};
  if (flags.envFile !== undefined) {
    const text = new TextDecoder().decode(read(deps, flags.envFile, '--env-file'));
    Object.assign(env, parseEnvFile(text, flags.envFile));
  }
  for (const { key, value } of flags.env ?? []) {
    const resolved = value ?? deps.env[key];
    if (resolved === undefined) throw new UsageError(`-e ${key}: ${key} is not set in this environment`);
    env[key] = resolved;
  }
  if (Object.keys(env).length > 0) spec.env = env;

  if (flags.workspaceDir !== undefined || flags.access !== undefined) {
    spec.workspace = {};
    if (flags.access !== undefined) spec.workspace.access = flags.access;
    if (flags.workspaceDir !== undefined) {
      spec.workspace.hostPath = isAbsolute(flags.workspaceDir)
        ? flags.workspaceDir
        : resolve(deps.cwd, flags.workspaceDir);
    }
  }
  if (flags.port && flags.port.length > 0) spec.ports = flags.port;

  const resources: NonNullable<WorkspaceSpecInput['resources']> = {};
  if (flags.memory !== undefined) resources.memoryMb = flags.memory;
  if (flags.cpus !== undefined) resources.cpus = flags.cpus;
  if (flags.pids !== undefined) resources.pidsLimit = flags.pids;
  if (Object.keys(resources).length > 0) spec.resources = resources;

  if (flags.label && flags.label.length > 0) spec.labels = Object.fromEntries(flags.label);

  if (flags.file && flags.file.length > 0) {
    const files: Record<string, ConfigFileInput> = {};
    for (const { path, source } of flags.file) {
      files[path] = source.kind === 'text' ? source.text : fileContent(read(deps, source.path, '--file'));
    }
    spec.files = files;
  }
  if (flags.template !== undefined) spec.template = flags.template;

  const egress: NonNullable<WorkspaceSpecInput['egress']> = {};
  if (flags.egress !== undefined) egress.mode = flags.egress;
  if (flags.allow && flags.allow.length > 0) egress.allow = flags.allow;
  if (flags.deny && flags.deny.length > 0) egress.deny = flags.deny;
  if (Object.keys(egress).length > 0) spec.egress = egress;
  if (flags.grant && flags.grant.length > 0) spec.grants = flags.grant.map(parseGrant);
  if (flags.secretEnv && flags.secretEnv.length > 0) spec.secretEnv = Object.fromEntries(flags.secretEnv);
  if (flags.build === true) spec.buildImage = true;
  const agentConfig = buildAgentConfig(flags, deps);
  if (agentConfig) spec.agentConfig = agentConfig;
  return spec;
}

/**
 * `--agent-config file.json` (the whole `agentConfig`), then `--model`, `--instructions text|@file`
 * and `--mcp` on top of it. Null when none is given.
 */
function buildAgentConfig(flags: CreateFlags, deps: SpecDeps): AgentConfigInput | null {
  let config: AgentConfigInput = {};
  if (flags.agentConfig !== undefined) {
    const text = new TextDecoder().decode(read(deps, flags.agentConfig, '--agent-config'));
    try {
      config = JSON.parse(text) as AgentConfigInput;
    } catch (err) {
      throw new UsageError(`--agent-config ${flags.agentConfig}: not JSON (${(err as Error).message})`);
    }
    if (typeof config !== 'object' || config === null || Array.isArray(config)) {
      throw new UsageError(
        `--agent-config ${flags.agentConfig}: a JSON object with model, instructions, mcpServers`,
      );
    }
  }
  if (flags.model !== undefined) config.model = flags.model;
  if (flags.instructions !== undefined) {
    config.instructions = flags.instructions.startsWith('@')
      ? new TextDecoder().decode(read(deps, flags.instructions.slice(1), '--instructions'))
      : flags.instructions;
  }
  for (const text of flags.mcp ?? []) {
    const [name, server] = parseMcp(text);
    config.mcpServers = { ...config.mcpServers, [name]: server };
  }
  return Object.keys(config).length > 0 ? config : null;
}

/**
 * `--mcp name=https://host/mcp` (a remote server) or `--mcp "name=command arg arg"` (a local one,
 * split on spaces; use --agent-config for arguments with spaces or env).
 */
export function parseMcp(text: string): [string, McpServerInput] {
  const eq = text.indexOf('=');
  const name = text.slice(0, eq);
  const rest = text.slice(eq + 1).trim();
  if (eq <= 0 || !rest) {
    throw new UsageError(`--mcp ${text}: use name=https://host/path or "name=command arg ..."`);
  }
  if (/^https?:\/\//.test(rest)) return [name, { url: rest }];
  const [command = '', ...args] = rest.split(/\s+/);
  return [name, args.length > 0 ? { command, args } : { command }];
}

/**
 * `--grant anthropic` (built-in) or `--grant name=host[,host]:header:SECRET[:prefix]` (custom),
 * e.g. `--grant internal=api.internal.example:Authorization:INTERNAL_TOKEN:"Bearer "`.
 */
export function parseGrant(text: string): GrantInput {
  const eq = text.indexOf('=');
  if (eq < 0) return text as GrantInput; // a built-in name; the server says which exist
  const name = text.slice(0, eq);
  const [hosts, header, secret, ...prefix] = text.slice(eq + 1).split(':');
  if (!hosts || !header || !secret) {
    throw new UsageError(
      `--grant ${text}: use a built-in name (anthropic, openai, github) or name=host[,host]:header:SECRET[:prefix]`,
    );
  }
  return {
    name,
    hosts: hosts.split(','),
    header,
    secret,
    ...(prefix.length > 0 ? { prefix: prefix.join(':') } : {}),
  };
}
