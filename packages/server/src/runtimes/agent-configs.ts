import type { AgentConfigInput, McpServerInput } from '@berth/protocol';
import { z } from 'zod';
import { ENV_KEY_PATTERN } from '../domain/patterns.js';

/**
 * Config files for the agent CLIs (Claude Code, Codex, Gemini CLI), generated from a workspace's
 * `agentConfig` into the /configs volume. One spec field drives every CLI, so an agent's model,
 * instructions and MCP servers do not have to be written three times in three formats. Pure: the
 * caller decides where the files go and when they are rewritten.
 */

export const AGENT_CONFIG_FORMATS = ['claude-code', 'codex', 'gemini'] as const;
export type AgentConfigFormat = (typeof AGENT_CONFIG_FORMATS)[number];

/** An MCP server: a local command (stdio) or a remote URL (streamable HTTP); the wire type. */
export type McpServer = McpServerInput;
/** `agentConfig` of the workspace spec: model, global instructions, MCP servers (the wire type). */
export type AgentConfig = AgentConfigInput;

/**
 * Where each CLI reads its config: the env var that points it there, and the directory under
 * /configs. `homeLink` is the dotdir in $HOME for CLIs (Gemini) that have no such env var, or for
 * tools that look there regardless.
 */
export const AGENT_CONFIG_DIRS: Record<
  AgentConfigFormat,
  { dir: string; env: Record<string, string>; homeLink: string }
> = {
  'claude-code': { dir: 'claude', env: { CLAUDE_CONFIG_DIR: '/configs/claude' }, homeLink: '.claude' },
  codex: { dir: 'codex', env: { CODEX_HOME: '/configs/codex' }, homeLink: '.codex' },
  gemini: { dir: 'gemini', env: {}, homeLink: '.gemini' },
};

export const AGENT_CONFIG_LIMITS = {
  maxModelLength: 200,
  maxInstructionsBytes: 64 * 1024,
  maxMcpServers: 32,
  maxCommandLength: 4096,
  maxArgs: 256,
  maxArgLength: 4096,
  maxValueLength: 32 * 1024,
  maxUrlLength: 4096,
};

const MCP_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** RFC 9110 `token`: what may appear in a header name. */
const HEADER_NAME_PATTERN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const noControl = (s: string): boolean => !/[\u0000-\u001f\u007f]/.test(s);
const noNul = (s: string): boolean => !s.includes('\0');

/**
 * A record whose keys must match `pattern`. A plain `z.record` reports a bad key as an aborting
 * "Invalid key in record", which inside the stdio/HTTP union makes both branches fail and hides
 * the cause; here the key check is a refinement, so the message says how to fix the key, at the
 * key's path. The key schema still carries the pattern for the OpenAPI document.
 */
const keyedRecord = <V extends z.ZodType>(pattern: RegExp, message: string, value: V) =>
  z.looseRecord(z.string().regex(pattern), value).superRefine((record, ctx) => {
    for (const key of Object.keys(record)) {
      if (!pattern.test(key)) ctx.addIssue({ code: 'custom', message, path: [key], input: key });
    }
  });

const envRecord = keyedRecord(
  ENV_KEY_PATTERN,
  'MCP env keys are letters, digits and _ and do not start with a digit',
  z
    .string()
    .max(
      AGENT_CONFIG_LIMITS.maxValueLength,
      `MCP env values are at most ${AGENT_CONFIG_LIMITS.maxValueLength} characters`,
    )
    .refine(noNul, 'MCP env values must not contain NUL'),
);

const headerRecord = keyedRecord(
  HEADER_NAME_PATTERN,
  "header names are letters, digits and !#$%&'*+.^_`|~- (an HTTP token)",
  z
    .string()
    .max(
      AGENT_CONFIG_LIMITS.maxValueLength,
      `header values are at most ${AGENT_CONFIG_LIMITS.maxValueLength} characters`,
    )
    .refine(noControl, 'header values must not contain control characters such as CR or LF'),
);

/** Says which keys are allowed, instead of zod's bare "Unrecognized key". */
const unknownKeys =
  (allowed: string) =>
  (issue: z.core.$ZodRawIssue): string | undefined =>
    issue.code === 'unrecognized_keys'
      ? `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}: ${allowed}`
      : undefined;

const StdioServerSchema = z.strictObject(
  {
    command: z
      .string()
      .min(1, 'command is the program to run, e.g. "npx"')
      .max(
        AGENT_CONFIG_LIMITS.maxCommandLength,
        `command is at most ${AGENT_CONFIG_LIMITS.maxCommandLength} characters`,
      )
      .refine(noNul, 'command must not contain NUL'),
    args: z
      .array(
        z
          .string()
          .max(
            AGENT_CONFIG_LIMITS.maxArgLength,
            `each arg is at most ${AGENT_CONFIG_LIMITS.maxArgLength} characters`,
          )
          .refine(noNul, 'args must not contain NUL'),
      )
      .max(AGENT_CONFIG_LIMITS.maxArgs, `at most ${AGENT_CONFIG_LIMITS.maxArgs} args`)
      .optional(),
    env: envRecord.optional(),
  },
  { error: unknownKeys('a stdio MCP server has command, args and env') },
);

const HttpServerSchema = z.strictObject(
  {
    url: z
      .url({
        protocol: /^https?$/,
        error: 'url is an http:// or https:// URL, e.g. "https://mcp.example.com/mcp"',
      })
      .max(AGENT_CONFIG_LIMITS.maxUrlLength, `url is at most ${AGENT_CONFIG_LIMITS.maxUrlLength} characters`),
    headers: headerRecord.optional(),
  },
  { error: unknownKeys('an HTTP MCP server has url and headers') },
);

/**
 * Once both branches fail, zod's union says only "Invalid input" (an oversized `args`, say, stops
 * the stdio branch outright). An object that names exactly one of `command` and `url` clearly means
 * that kind of server, so report that branch's first problem, with its path, instead.
 */
function mcpServerError(issue: z.core.$ZodRawIssue): string {
  const input = issue.input;
  const keys = input !== null && typeof input === 'object' ? input : {};
  const hasCommand = 'command' in keys;
  const hasUrl = 'url' in keys;
  if (hasCommand && hasUrl) return 'an MCP server has either command (stdio) or url (HTTP), not both';
  const first =
    issue.code === 'invalid_union' && hasCommand !== hasUrl
      ? issue.errors[hasCommand ? 0 : 1]?.[0]
      : undefined;
  if (!first) return 'an MCP server is { command, args?, env? } (stdio) or { url, headers? } (HTTP)';
  return first.path.length ? `${first.path.map(String).join('.')}: ${first.message}` : first.message;
}

const McpServerSchema = z.union([StdioServerSchema, HttpServerSchema], { error: mcpServerError });

/** `agentConfig` in the workspace spec. */
export const AgentConfigSchema = z.strictObject(
  {
    model: z
      .string()
      .min(1, 'model is a model name such as "claude-sonnet-4-5"; leave it out for the CLI default')
      .max(
        AGENT_CONFIG_LIMITS.maxModelLength,
        `model is at most ${AGENT_CONFIG_LIMITS.maxModelLength} characters`,
      )
      .refine(noControl, 'model must not contain control characters')
      .optional(),
    instructions: z
      .string()
      .refine(
        (s) => Buffer.byteLength(s, 'utf8') <= AGENT_CONFIG_LIMITS.maxInstructionsBytes,
        `instructions are at most ${AGENT_CONFIG_LIMITS.maxInstructionsBytes} bytes (UTF-8)`,
      )
      .refine(noNul, 'instructions must not contain NUL')
      .optional(),
    mcpServers: keyedRecord(
      MCP_NAME_PATTERN,
      'MCP server names use letters, digits, _ and - (1-64 characters)',
      McpServerSchema,
    )
      .refine(
        (r) => Object.keys(r).length <= AGENT_CONFIG_LIMITS.maxMcpServers,
        `at most ${AGENT_CONFIG_LIMITS.maxMcpServers} MCP servers`,
      )
      .optional(),
  },
  { error: unknownKeys('agentConfig has model, instructions and mcpServers') },
);

// The schema and the hand-written type must agree.
type SchemaOutput = z.infer<typeof AgentConfigSchema>;
export const agentConfigTypesAgree: [SchemaOutput] extends [AgentConfig]
  ? [AgentConfig] extends [SchemaOutput]
    ? true
    : false
  : false = true;

/**
 * The files (path relative to /configs → contents as a UTF-8 string) the format needs. Every
 * config file is written even for an empty config, so the CLI always finds a valid file (and
 * a stale one from an earlier spec is overwritten); the instructions file only when there are
 * instructions. Deterministic: map keys are sorted (in JSON, integer-like keys still come first, as
 * JS objects order them), so an unchanged spec gives unchanged bytes.
 */
export function agentConfigFiles(format: AgentConfigFormat, config: AgentConfig): Record<string, string> {
  const { dir } = AGENT_CONFIG_DIRS[format];
  const servers = sortedEntries(config.mcpServers);
  const files: Record<string, string> = {};
  switch (format) {
    case 'claude-code': {
      files[`${dir}/settings.json`] = json({
        $schema: 'https://json.schemastore.org/claude-code-settings.json',
        ...(config.model ? { model: config.model } : {}),
        env: { DISABLE_AUTOUPDATER: '1', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' },
        permissions: { defaultMode: 'acceptEdits' },
        includeCoAuthoredBy: false,
      });
      const mcpServers = Object.fromEntries(servers.map(([name, s]) => [name, claudeServer(s)]));
      // With CLAUDE_CONFIG_DIR set, Claude Code keeps its user-scope state (onboarding, user MCP
      // servers) in $CLAUDE_CONFIG_DIR/.claude.json instead of ~/.claude.json.
      files[`${dir}/.claude.json`] = json({ hasCompletedOnboarding: true, mcpServers });
      // The same servers in the project .mcp.json format, for `claude --mcp-config <file>`.
      files[`${dir}/.mcp.json`] = json({ mcpServers });
      if (config.instructions) files[`${dir}/CLAUDE.md`] = withNewline(config.instructions);
      break;
    }
    case 'codex':
      files[`${dir}/config.toml`] = codexToml(config.model, servers);
      if (config.instructions) files[`${dir}/AGENTS.md`] = withNewline(config.instructions);
      break;
    case 'gemini':
      files[`${dir}/settings.json`] = json({
        ...(config.model ? { model: { name: config.model } } : {}),
        mcpServers: Object.fromEntries(servers.map(([name, s]) => [name, geminiServer(s)])),
        privacy: { usageStatisticsEnabled: false },
        general: { disableAutoUpdate: true },
      });
      if (config.instructions) files[`${dir}/GEMINI.md`] = withNewline(config.instructions);
      break;
  }
  return files;
}

function claudeServer(s: McpServer): Record<string, unknown> {
  if ('command' in s) {
    return {
      type: 'stdio',
      command: s.command,
      ...(s.args ? { args: s.args } : {}),
      ...(s.env ? { env: sortedRecord(s.env) } : {}),
    };
  }
  return { type: 'http', url: s.url, ...(s.headers ? { headers: sortedRecord(s.headers) } : {}) };
}

/** Gemini CLI tells streamable HTTP (`httpUrl`) from SSE (`url`) by the key name. */
function geminiServer(s: McpServer): Record<string, unknown> {
  if ('command' in s) {
    return {
      command: s.command,
      ...(s.args ? { args: s.args } : {}),
      ...(s.env ? { env: sortedRecord(s.env) } : {}),
    };
  }
  return { httpUrl: s.url, ...(s.headers ? { headers: sortedRecord(s.headers) } : {}) };
}

function codexToml(model: string | undefined, servers: [string, McpServer][]): string {
  const lines = ['# Generated by Berth from the workspace spec; edits are overwritten on restart.'];
  if (model) lines.push(`model = ${tomlString(model)}`);
  lines.push(
    'approval_policy = "never"',
    "# The Berth workspace is the sandbox; Codex's own Landlock/seccomp sandbox cannot nest inside it.",
    'sandbox_mode = "danger-full-access"',
    '',
    '[shell_environment_policy]',
    'inherit = "all"',
  );
  const table = (path: string[], entries: [string, string][]): void => {
    lines.push('', `[${path.map(tomlKey).join('.')}]`);
    for (const [k, v] of entries) lines.push(`${tomlKey(k)} = ${v}`);
  };
  const stringTable = (rec: Record<string, string>): [string, string][] =>
    sortedEntries(rec).map(([k, v]) => [k, tomlString(v)]);
  for (const [name, s] of servers) {
    if ('command' in s) {
      const values: [string, string][] = [['command', tomlString(s.command)]];
      if (s.args) values.push(['args', `[${s.args.map(tomlString).join(', ')}]`]);
      table(['mcp_servers', name], values);
      if (s.env) table(['mcp_servers', name, 'env'], stringTable(s.env));
    } else {
      table(['mcp_servers', name], [['url', tomlString(s.url)]]);
      if (s.headers) table(['mcp_servers', name, 'http_headers'], stringTable(s.headers));
    }
  }
  return lines.join('\n') + '\n';
}

const TOML_ESCAPES: Record<string, string> = {
  '\b': '\\b',
  '\t': '\\t',
  '\n': '\\n',
  '\f': '\\f',
  '\r': '\\r',
  '"': '\\"',
  '\\': '\\\\',
};

/**
 * A TOML basic string ("..."): backslash and double quote escaped, control characters as their
 * short escapes or \uXXXX (TOML forbids them raw). Lone surrogates, which UTF-8 cannot encode and
 * TOML cannot escape, become U+FFFD.
 */
export function tomlString(s: string): string {
  // eslint-disable-next-line no-control-regex -- escaping control characters is the point
  const escaped = s.toWellFormed().replace(/[\u0000-\u001f\u007f"\\]/g, (c) => {
    return TOML_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
  });
  return `"${escaped}"`;
}

/** A TOML key: bare when it is only letters, digits, _ and -, else a quoted basic string. */
export function tomlKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : tomlString(key);
}

/** Entries sorted by key in code-unit order (not locale order, which varies by host). */
function sortedEntries<T>(rec: Record<string, T> | undefined): [string, T][] {
  return Object.entries(rec ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** `Object.fromEntries` defines keys as own properties, so even `__proto__` survives. */
const sortedRecord = <T>(rec: Record<string, T>): Record<string, T> => Object.fromEntries(sortedEntries(rec));

const json = (value: unknown): string => JSON.stringify(value, null, 2) + '\n';

const withNewline = (s: string): string => (s.endsWith('\n') ? s : s + '\n');
