import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, openSync, readFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';

export interface PreviewClaims {
  workspaceId: string;
  port: number;
  /** Unix ms. */
  expiresAt: number;
}

/** The cookie a preview token becomes, scoped to one workspace port's path. */
export const PREVIEW_COOKIE = 'berth_preview';
export const PREVIEW_QUERY = 'berth_preview';

/**
 * Signed, short-lived tokens that let a browser reach one port of one workspace through Berth's
 * proxy, without an API token. HMAC-SHA256 with a key kept in the data dir (mode 0600).
 */
export class PreviewTokens {
  private readonly key: Buffer;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const file = join(dataDir, 'preview-key');
    let key: Buffer;
    try {
      key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
      if (key.length < 32) throw new Error('short key');
    } catch {
      key = randomBytes(32);
      const fd = openSync(file, 'w', 0o600);
      try {
        writeSync(fd, `${key.toString('base64')}\n`);
      } finally {
        closeSync(fd);
      }
      chmodSync(file, 0o600);
    }
    this.key = key;
  }

  issue(claims: PreviewClaims): string {
    const body = Buffer.from(JSON.stringify([claims.workspaceId, claims.port, claims.expiresAt])).toString(
      'base64url',
    );
    return `${body}.${this.sign(body)}`;
  }

  /** The claims of a valid, unexpired token, or null. */
  verify(token: string, now = Date.now()): PreviewClaims | null {
    const [body, signature, extra] = token.split('.');
    if (!body || !signature || extra !== undefined) return null;
    const expected = Buffer.from(this.sign(body));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
    try {
      const [workspaceId, port, expiresAt] = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as [
        string,
        number,
        number,
      ];
      if (typeof workspaceId !== 'string' || !Number.isInteger(port) || !Number.isInteger(expiresAt))
        return null;
      return expiresAt > now ? { workspaceId, port, expiresAt } : null;
    } catch {
      return null;
    }
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}
