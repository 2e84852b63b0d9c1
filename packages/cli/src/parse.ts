/**
 * Parsers for option values. Each throws commander's `InvalidArgumentError`, so a bad value is a
 * usage error (exit 2) with the option named in the message.
 */
import { TIERS, WORKSPACE_STATUSES, type PortInput, type Tier, type WorkspaceStatus } from '@berth/protocol';
import { InvalidArgumentError } from 'commander';

/** `KEY=VALUE`; the value may be empty and may contain `=`. */
export function parseKeyValue(raw: string): [string, string] {
  const eq = raw.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected KEY=VALUE, got ${JSON.stringify(raw)}`);
  return [raw.slice(0, eq), raw.slice(eq + 1)];
}

/** `-e KEY=VALUE`, or `-e KEY` to copy KEY from the caller's environment (as `docker run -e` does). */
export interface EnvFlag {
  key: string;
  value: string | undefined;
}

export function parseEnvFlag(raw: string): EnvFlag {
  const eq = raw.indexOf('=');
  if (eq === 0 || raw === '')
    throw new InvalidArgumentError(`expected KEY=VALUE or KEY, got ${JSON.stringify(raw)}`);
  return eq < 0 ? { key: raw, value: undefined } : { key: raw.slice(0, eq), value: raw.slice(eq + 1) };
}

/**
 * A dotenv-style file: `KEY=VALUE` lines, blank lines and `#` comments ignored, an optional `export `
 * prefix, and values optionally wrapped in single quotes (literal) or double quotes (`\n`, `\"`, `\\`).
 */
export function parseEnvFile(text: string, fileName = 'env file'): Record<string, string> {
  const env: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const body = trimmed.startsWith('export ') ? trimmed.slice('export '.length).trimStart() : trimmed;
    const eq = body.indexOf('=');
    const key = eq > 0 ? body.slice(0, eq).trim() : '';
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key)) {
      throw new InvalidArgumentError(
        `${fileName}:${index + 1}: expected KEY=VALUE, got ${JSON.stringify(line)}`,
      );
    }
    env[key] = unquote(body.slice(eq + 1).trim());
  });
  return env;
}

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) return value.slice(1, -1);
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    return value.slice(1, -1).replace(/\\([nrt"\\])/g, (_m, c: string) => {
      if (c === 'n') return '\n';
      if (c === 'r') return '\r';
      if (c === 't') return '\t';
      return c;
    });
  }
  return value;
}

/** `<port>[:name]`, e.g. `3000` or `3000:web`. */
export function parsePortSpec(raw: string): PortInput {
  const colon = raw.indexOf(':');
  const portText = colon < 0 ? raw : raw.slice(0, colon);
  const name = colon < 0 ? undefined : raw.slice(colon + 1);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new InvalidArgumentError(`expected <port>[:name] with port 1-65535, got ${JSON.stringify(raw)}`);
  }
  if (name === undefined) return port;
  if (name === '') throw new InvalidArgumentError(`port name after ':' is empty in ${JSON.stringify(raw)}`);
  return { port, name };
}

/** Where a `--file` entry's content comes from. */
export type FileSource = { kind: 'text'; text: string } | { kind: 'local'; path: string };
export interface FileSpec {
  /** Path relative to `/configs`. */
  path: string;
  source: FileSource;
}

/** `<path>=@<localfile>` (content read from a local file) or `<path>=<text>`. */
export function parseFileSpec(raw: string): FileSpec {
  const eq = raw.indexOf('=');
  if (eq <= 0) {
    throw new InvalidArgumentError(
      `expected <path>=@<localfile> or <path>=<text>, got ${JSON.stringify(raw)}`,
    );
  }
  const path = raw.slice(0, eq);
  const value = raw.slice(eq + 1);
  if (value.startsWith('@')) {
    const local = value.slice(1);
    if (local === '') throw new InvalidArgumentError(`no local file after '@' in ${JSON.stringify(raw)}`);
    return { path, source: { kind: 'local', path: local } };
  }
  return { path, source: { kind: 'text', text: value } };
}

/** A whole number within [min, max]. */
export function parseInteger(raw: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `${min}-${max}`;
    throw new InvalidArgumentError(`expected a whole number ${range}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** A positive number (fractions allowed, e.g. `0.5` CPUs). */
export function parsePositiveNumber(raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new InvalidArgumentError(`expected a positive number, got ${JSON.stringify(raw)}`);
  }
  return n;
}

export function parseTier(raw: string): Tier {
  const n = Number(raw);
  if (!(TIERS as readonly number[]).includes(n) || !/^\d$/.test(raw)) {
    throw new InvalidArgumentError(`expected a tier ${TIERS.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return n as Tier;
}

/** A comma-separated list of workspace statuses. */
export function parseStatusList(raw: string): WorkspaceStatus[] {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const bad = items.filter((s) => !(WORKSPACE_STATUSES as readonly string[]).includes(s));
  if (items.length === 0 || bad.length > 0) {
    throw new InvalidArgumentError(
      `expected statuses from ${WORKSPACE_STATUSES.join(', ')}, got ${JSON.stringify(bad.length > 0 ? bad.join(',') : raw)}`,
    );
  }
  return items as WorkspaceStatus[];
}

/** Commander reducer for repeatable options: `.option('-l, --label <k=v>', '...', collect(parseKeyValue), [])`. */
export function collect<T>(parse: (raw: string) => T): (raw: string, previous: T[] | undefined) => T[] {
  return (raw, previous) => [...(previous ?? []), parse(raw)];
}

/** An octal permission mode such as `644` or `0755` (no setuid, setgid or sticky bits). */
export function parseOctalMode(raw: string): number {
  if (!/^0?[0-7]{3}$/.test(raw)) {
    throw new InvalidArgumentError(
      `expected an octal permission mode such as 644, got ${JSON.stringify(raw)}`,
    );
  }
  return parseInt(raw, 8);
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration: milliseconds as a plain number, or with a unit: `500ms`, `30s`, `5m`, `2h`, `1d`. */
export function parseDuration(raw: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(raw.trim());
  if (!m) {
    throw new InvalidArgumentError(
      `expected a duration such as 30000 (ms), 30s, 5m or 2h, got ${JSON.stringify(raw)}`,
    );
  }
  const ms = Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? 'ms']!);
  if (ms < 1) throw new InvalidArgumentError(`duration ${JSON.stringify(raw)} is shorter than 1 ms`);
  return ms;
}

/**
 * `--since`: Unix seconds (`1700000000`), an RFC 3339 / ISO time, or an age (`10m`, `2h`, `1d`)
 * before `now`. Returns Unix seconds.
 */
export function parseSince(raw: string, now: () => Date = () => new Date()): number {
  const text = raw.trim();
  if (/^\d{9,}$/.test(text)) return Number(text);
  const age = /^(\d+)(s|m|h|d)$/.exec(text);
  if (age) return Math.floor((now().getTime() - Number(age[1]) * DURATION_UNITS[age[2]!]!) / 1000);
  if (/^\d{4}-\d\d-\d\d/.test(text)) {
    const at = Date.parse(text);
    if (Number.isFinite(at)) return Math.floor(at / 1000);
  }
  throw new InvalidArgumentError(
    `expected Unix seconds, an ISO time (2024-05-01T12:00:00Z) or an age (10m, 2h), got ${JSON.stringify(raw)}`,
  );
}

/** One side of `berth cp`: a local path, or `<workspace>:<path>` inside a workspace. */
export type CopyLocation =
  { kind: 'local'; path: string } | { kind: 'remote'; workspace: string; path: string };

/**
 * Parses a `berth cp` operand as `docker cp` does: `<workspace>:<path>` is inside a workspace; a path
 * starting with `/` or `.` is always local (so local names containing `:` can be written `./a:b`).
 */
export function parseCopyLocation(raw: string): CopyLocation {
  if (raw === '') throw new InvalidArgumentError('empty path');
  if (raw === '-' || raw.startsWith('/') || raw.startsWith('.')) return { kind: 'local', path: raw };
  const colon = raw.indexOf(':');
  if (colon < 0) return { kind: 'local', path: raw };
  const workspace = raw.slice(0, colon);
  if (!/^(ws_[a-z0-9]+|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)$/.test(workspace)) {
    throw new InvalidArgumentError(
      `${JSON.stringify(workspace)} is not a workspace name or id; write a local path containing ':' as ./${raw}`,
    );
  }
  return { kind: 'remote', workspace, path: raw.slice(colon + 1) };
}
