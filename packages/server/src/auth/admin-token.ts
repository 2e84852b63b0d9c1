import { chmodSync, mkdirSync, openSync, readFileSync, statSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_TOKEN_FILE } from '@berth/protocol';
import { newTokenSecret } from '../util/ids.js';

export interface AdminToken {
  secret: string;
  /** Where it came from, for the start-up log (never the value). */
  source: 'env' | 'file' | 'generated';
  file: string | null;
}

export const MIN_ADMIN_TOKEN_LENGTH = 16;

/**
 * The admin bearer token: `BERTH_ADMIN_TOKEN` when set; otherwise the one stored in
 * `<dataDir>/admin-token` (mode 0600), generated at first start. The caller prints a generated
 * token once.
 */
export function resolveAdminToken(dataDir: string, env: NodeJS.ProcessEnv = process.env): AdminToken {
  const fromEnv = env.BERTH_ADMIN_TOKEN;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (fromEnv.length < MIN_ADMIN_TOKEN_LENGTH || /\s/.test(fromEnv)) {
      throw new Error(
        `BERTH_ADMIN_TOKEN must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters without whitespace`,
      );
    }
    return { secret: fromEnv, source: 'env', file: null };
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  try {
    const secret = readFileSync(file, 'utf8').trim();
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    if (secret.length >= MIN_ADMIN_TOKEN_LENGTH) return { secret, source: 'file', file };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = newTokenSecret();
  const fd = openSync(file, 'w', 0o600);
  try {
    writeSync(fd, `${secret}\n`);
  } finally {
    closeSync(fd);
  }
  chmodSync(file, 0o600);
  return { secret, source: 'generated', file };
}
