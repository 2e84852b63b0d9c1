import { timingSafeEqual } from 'node:crypto';
import { AppError } from '../errors.js';
import type { TokenRepo } from '../store/token-repo.js';
import { bearerToken } from '../util/bearer.js';
import { sha256Hex } from '../util/canonical-json.js';
import { ADMIN_ID, type Principal } from '../workspaces/spec.js';

export const ADMIN_PRINCIPAL: Principal = { id: ADMIN_ID, scope: 'admin' };

/** Bearer-token authentication: the admin token (constant-time compare) or a stored user token. */
export class Authenticator {
  private readonly adminHash: Buffer;

  constructor(
    adminSecret: string,
    private readonly tokens: TokenRepo,
  ) {
    this.adminHash = Buffer.from(sha256Hex(adminSecret), 'hex');
  }

  async authenticate(authorization: string | undefined): Promise<Principal> {
    const secret = bearerToken(authorization);
    if (secret === null) {
      throw new AppError(
        'unauthenticated',
        'send Authorization: Bearer <token> (the admin token is in <dataDir>/admin-token)',
      );
    }
    const hash = sha256Hex(secret);
    if (timingSafeEqual(Buffer.from(hash, 'hex'), this.adminHash)) return ADMIN_PRINCIPAL;
    const token = await this.tokens.findActiveByHash(hash);
    if (!token) throw new AppError('unauthenticated', 'the bearer token is unknown or revoked');
    return { id: token.id, scope: token.scope };
  }
}
