import { ENV_KEY_PATTERN } from '../domain/patterns.js';
import { matchesAny } from '../util/globs.js';

/** Env keys Berth sets in every workspace (seed 000's platform contract). Users cannot set them. */
export const PLATFORM_ENV_KEYS = [
  'WORKSPACE_ID',
  'WORKSPACE_NAME',
  'WORKSPACE_CONFIG_PATH',
  'WORKSPACE_DIR',
  'PLATFORM_URL',
  'TIER',
] as const;

/**
 * Keys that would let a caller subvert the loader, the egress path or TLS trust (B8). Matched
 * case-insensitively; proxy variables in both cases are honoured by common tools.
 */
const SECURITY_SENSITIVE = [
  'LD_PRELOAD',
  'LD_LIBRARY_PATH',
  'LD_AUDIT',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'FTP_PROXY',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'NODE_EXTRA_CA_CERTS',
  'REQUESTS_CA_BUNDLE',
  'CURL_CA_BUNDLE',
  'GIT_SSL_CAINFO',
  'PIP_CERT',
  'NODE_USE_ENV_PROXY',
];

export function isReservedEnvKey(key: string): boolean {
  const upper = key.toUpperCase();
  return (
    (PLATFORM_ENV_KEYS as readonly string[]).includes(upper) ||
    SECURITY_SENSITIVE.includes(upper) ||
    upper.startsWith('BERTH_')
  );
}

/**
 * Host env passed into workspaces (seed 003 FilterEnv): names matching an allow glob, minus names
 * matching a deny glob (deny wins), minus reserved keys. Values are never logged.
 */
export function filterHostEnv(
  hostEnv: Record<string, string | undefined>,
  allow: readonly string[],
  deny: readonly string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  if (allow.length === 0) return out;
  for (const [key, value] of Object.entries(hostEnv)) {
    if (value === undefined || !ENV_KEY_PATTERN.test(key) || isReservedEnvKey(key)) continue;
    if (matchesAny(key, allow) && !matchesAny(key, deny)) out[key] = value;
  }
  return out;
}
