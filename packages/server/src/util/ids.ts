import { randomBytes } from 'node:crypto';

// Crockford base32 (lowercase): no i, l, o, u, so ids read and type safely.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

export function randomBase32(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += ALPHABET[b & 31];
  return out;
}

export const newWorkspaceId = (): string => `ws_${randomBase32(16)}`;
export const newTokenId = (): string => `tok_${randomBase32(12)}`;
export const newRequestId = (): string => `req_${randomBase32(12)}`;
export const newSecretId = (): string => `sec_${randomBase32(16)}`;
/** Bearer secrets: 160 bits of entropy, prefixed so leaked tokens are recognisable by scanners. */
export const newTokenSecret = (): string => `berth_${randomBytes(20).toString('base64url')}`;

export const WORKSPACE_ID_PATTERN = /^ws_[0-9a-z]{16}$/;
