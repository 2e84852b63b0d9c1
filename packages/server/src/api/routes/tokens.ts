import type { CreatedApiToken } from '@berth/protocol';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import type { SecretRegistry } from '../../log/logger.js';
import type { TokenRepo } from '../../store/token-repo.js';
import { sha256Hex } from '../../util/canonical-json.js';
import { newTokenId, newTokenSecret } from '../../util/ids.js';
import { parseWith } from '../../workspaces/validate.js';
import { requireAdmin } from '../app.js';
import { TokenCreateSchema } from '../schemas.js';

export interface TokenRouteDeps {
  tokens: TokenRepo;
  secrets: SecretRegistry;
}

export function registerTokenRoutes(app: FastifyInstance, deps: TokenRouteDeps): void {
  app.post('/v1/tokens', async (req, reply): Promise<CreatedApiToken> => {
    requireAdmin(req);
    const input = parseWith(TokenCreateSchema, req.body ?? {}, 'body');
    const secret = newTokenSecret();
    deps.secrets.add(secret);
    const token = await deps.tokens.create({
      id: newTokenId(),
      name: input.name,
      scope: input.scope,
      tokenHash: sha256Hex(secret),
    });
    void reply.status(201);
    return { token, secret };
  });

  app.get('/v1/tokens', async (req) => {
    requireAdmin(req);
    return { items: await deps.tokens.list() };
  });

  app.delete('/v1/tokens/:id', async (req, reply) => {
    requireAdmin(req);
    const { id } = parseWith(z.object({ id: z.string().max(64) }), req.params, 'path');
    if (!(await deps.tokens.revoke(id)))
      throw new AppError('token_not_found', `no API token ${id}; list them with GET /v1/tokens`);
    return reply.status(204).send();
  });
}
