import {
  BUILTIN_GRANTS,
  SECRET_NAME_PATTERN,
  type BuiltinGrant,
  type Grant,
  type GrantInput,
} from '@berth/protocol';
import { normalizeHost } from './policy.js';

/**
 * Grants: credentials the egress gateway injects on HTTPS to their hosts (X4). The workspace gets a
 * format-valid placeholder so agent CLIs start; the real value never enters the workspace.
 */

const repeat = (alphabet: string, n: number) => alphabet.repeat(Math.ceil(n / alphabet.length)).slice(0, n);

/** Placeholders that pass the CLIs' format checks and are obviously not credentials. */
export const PLACEHOLDERS: Record<BuiltinGrant, string> = {
  anthropic: `sk-ant-api03-${repeat('berthPlaceholderNotARealKey', 93)}AA`,
  openai: `sk-proj-${repeat('berthPlaceholderNotARealKey', 48)}`,
  github: `ghp_${repeat('berthPlaceholderNotARealKey', 36)}`,
};

const BUILTINS: Record<BuiltinGrant, Grant> = {
  anthropic: {
    name: 'anthropic',
    hosts: ['api.anthropic.com'],
    header: 'x-api-key',
    prefix: '',
    secret: 'ANTHROPIC_API_KEY',
    placeholderEnv: 'ANTHROPIC_API_KEY',
  },
  openai: {
    name: 'openai',
    hosts: ['api.openai.com'],
    header: 'authorization',
    prefix: 'Bearer ',
    secret: 'OPENAI_API_KEY',
    placeholderEnv: 'OPENAI_API_KEY',
  },
  github: {
    name: 'github',
    hosts: ['api.github.com', 'uploads.github.com'],
    header: 'authorization',
    prefix: 'Bearer ',
    secret: 'GH_TOKEN',
    placeholderEnv: 'GH_TOKEN',
  },
};

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;
const GRANT_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Headers a grant may not set: framing, routing and hop-by-hop headers (B26). */
const FORBIDDEN_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'proxy-authorization',
  'proxy-connection',
  'cookie',
]);

/** Validates and spells out a workspace's grants; throws a message that says how to fix. */
export function normalizeGrants(inputs: readonly GrantInput[]): Grant[] {
  const grants: Grant[] = [];
  for (const input of inputs) {
    let grant: Grant;
    if (typeof input === 'string') {
      if (!(BUILTIN_GRANTS as readonly string[]).includes(input)) {
        throw new Error(
          `unknown grant "${input}": use one of ${BUILTIN_GRANTS.join(', ')} or {name, hosts, header, secret}`,
        );
      }
      grant = BUILTINS[input];
    } else {
      if (!GRANT_NAME.test(input.name)) throw new Error(`grant name "${input.name}" must be a DNS label`);
      if (!HEADER_NAME.test(input.header) || FORBIDDEN_HEADERS.has(input.header.toLowerCase())) {
        throw new Error(
          `grant "${input.name}": header "${input.header}" is not a header a credential may go in (e.g. "Authorization" or "x-api-key")`,
        );
      }
      if (!SECRET_NAME_PATTERN.test(input.secret)) {
        throw new Error(`grant "${input.name}": secret "${input.secret}" is not a secret name`);
      }
      const prefix = input.prefix ?? '';
      if (prefix.length > 64 || !/^[\x20-\x7e]*$/.test(prefix)) {
        throw new Error(`grant "${input.name}": prefix is at most 64 printable ASCII characters`);
      }
      if (input.hosts.length === 0 || input.hosts.length > 16) {
        throw new Error(`grant "${input.name}": give 1-16 hosts`);
      }
      const hosts = input.hosts.map((h) => {
        const n = normalizeHost(h);
        if (!n || n.ip || h.includes('*')) {
          throw new Error(
            `grant "${input.name}": host "${h}" must be an exact DNS name (no IPs, no wildcards)`,
          );
        }
        return n.host;
      });
      grant = {
        name: input.name,
        hosts: [...new Set(hosts)],
        header: input.header.toLowerCase(),
        prefix,
        secret: input.secret,
        placeholderEnv: null,
      };
    }
    if (grants.some((g) => g.name === grant.name)) throw new Error(`grant "${grant.name}" is listed twice`);
    const clash = grants.find((g) => g.hosts.some((h) => grant.hosts.includes(h)));
    if (clash) {
      throw new Error(`grants "${clash.name}" and "${grant.name}" both inject on the same host; keep one`);
    }
    grants.push(grant);
  }
  return grants;
}

/** The grant that injects on `host`, if any (hosts are normalised). */
export const grantFor = (grants: readonly Grant[], host: string): Grant | undefined =>
  grants.find((g) => g.hosts.includes(host));

/** Placeholder env of built-in grants: what agent CLIs look for before they start. */
export function placeholderEnv(grants: readonly Grant[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const g of grants) {
    if (g.placeholderEnv && g.name in PLACEHOLDERS)
      env[g.placeholderEnv] = PLACEHOLDERS[g.name as BuiltinGrant];
  }
  return env;
}

/** Every placeholder value: sent anywhere but through an injecting grant, it is refused (B24). */
export const ALL_PLACEHOLDERS: readonly string[] = Object.values(PLACEHOLDERS);
