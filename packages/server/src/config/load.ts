import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { defaultDataDir } from '@berth/protocol';
import { parse as parseYaml } from 'yaml';
import { ConfigSchema, ENV_BINDINGS, type Config } from './schema.js';

export interface ConfigFlags {
  host?: string | undefined;
  port?: number | undefined;
  dataDir?: string | undefined;
  configPath?: string | undefined;
  logLevel?: string | undefined;
}

/** The config after loading: paths resolved, templatesDir always set. */
export type ResolvedConfig = Readonly<Config & { templatesDir: string }>;

export interface LoadedConfig {
  config: ResolvedConfig;
  /** The config file that was read, if any. */
  configFile: string | null;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid Berth configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

type Raw = Record<string, unknown>;

function setPath(target: Raw, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    node = (next && typeof next === 'object' ? next : (node[key] = {})) as Raw;
  }
  node[path[path.length - 1] as string] = value;
}

function deepMerge(base: Raw, over: Raw): Raw {
  const out: Raw = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const prev = out[k];
    const bothObjects =
      v &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      prev &&
      typeof prev === 'object' &&
      !Array.isArray(prev);
    out[k] = bothObjects ? deepMerge(prev as Raw, v as Raw) : v;
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function fromEnv(env: NodeJS.ProcessEnv, problems: string[]): Raw {
  const out: Raw = {};
  for (const binding of ENV_BINDINGS) {
    const text = env[binding.env];
    if (text === undefined || text === '') continue;
    if (binding.kind === 'number') {
      const n = Number(text);
      if (!Number.isFinite(n)) problems.push(`${binding.env}=${JSON.stringify(text)}: expected a number`);
      else setPath(out, binding.path, n);
    } else if (binding.kind === 'boolean') {
      if (!/^(true|false|1|0)$/.test(text)) problems.push(`${binding.env}: expected true or false`);
      else setPath(out, binding.path, text === 'true' || text === '1');
    } else {
      setPath(out, binding.path, text);
    }
  }
  return out;
}

function readConfigFile(path: string, problems: string[]): Raw {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    problems.push(`${path}: ${err instanceof Error ? err.message : String(err)}`);
    return {};
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    problems.push(`${path}: the top level must be a mapping`);
    return {};
  }
  return parsed as Raw;
}

/**
 * Loads the configuration: defaults, then the config file (`--config`, `BERTH_CONFIG`, or
 * `<dataDir>/berth.yaml` when it exists), then env, then flags. Validates once and reports every
 * problem together; the result is deep-frozen.
 */
export function loadConfig(flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const problems: string[] = [];
  const envRaw = fromEnv(env, problems);
  const flagRaw: Raw = {};
  if (flags.host !== undefined) flagRaw.host = flags.host;
  if (flags.port !== undefined) flagRaw.port = flags.port;
  if (flags.dataDir !== undefined) flagRaw.dataDir = flags.dataDir;
  if (flags.logLevel !== undefined) flagRaw.logLevel = flags.logLevel;

  const preliminaryDataDir = flags.dataDir ?? env.BERTH_DATA_DIR ?? defaultDataDir(env, homedir());
  const explicitFile = flags.configPath ?? env.BERTH_CONFIG;
  const implicitFile = join(preliminaryDataDir, 'berth.yaml');
  let configFile: string | null = null;
  let fileRaw: Raw = {};
  if (explicitFile) {
    if (!existsSync(explicitFile)) problems.push(`config file ${explicitFile} does not exist`);
    else configFile = resolve(explicitFile);
  } else if (existsSync(implicitFile)) {
    configFile = implicitFile;
  }
  if (configFile) fileRaw = readConfigFile(configFile, problems);

  const merged = deepMerge(deepMerge(deepMerge({ dataDir: preliminaryDataDir }, fileRaw), envRaw), flagRaw);
  const result = ConfigSchema.safeParse(merged);
  if (!result.success) {
    for (const issue of result.error.issues) {
      problems.push(`${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);

  const config = result.data;
  config.dataDir = resolve(config.dataDir);
  const resolved = {
    ...config,
    templatesDir: resolve(config.templatesDir ?? join(config.dataDir, 'templates')),
  };
  return { config: deepFreeze(resolved), configFile };
}
