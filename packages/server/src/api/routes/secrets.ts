import type { SecretInfo, SecretRekeyResult } from '@berth/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import type { SecretScopeOptions, SecretService } from '../../secrets/secret-service.js';
import { parseWith } from '../../workspaces/validate.js';
import type { WorkspaceService } from '../../workspaces/workspace-service.js';
import { principalOf, requireAdmin } from '../app.js';

export interface SecretRouteDeps {
  secretService: SecretService;
  workspaces: WorkspaceService;
}

// Only the shape is checked here; the value itself is checked by the service, whose errors never
// repeat it (a zod message for a too-long string would be harmless, but one code for every bad
// value is simpler for callers).
const PutBody = z.strictObject({ value: z.unknown().optional() });
const NameParams = z.object({ name: z.string() });
const WorkspaceParams = z.object({ id: z.string().min(1).max(128) });
const WorkspaceNameParams = z.object({ id: z.string().min(1).max(128), name: z.string() });

/**
 * Secrets are write-only: `PUT` stores a value, lists show names and metadata, nothing returns a
 * value. Global secrets and rekey need an admin token; a workspace's secrets, a token that may
 * manage that workspace (its owner, or an admin; others get 404 as for the workspace itself).
 */
export function registerSecretRoutes(app: FastifyInstance, deps: SecretRouteDeps): void {
  const secrets = deps.secretService;

  /** The workspace a request names, if this token may manage it (404 otherwise, as elsewhere). */
  const workspaceScope = async (req: FastifyRequest, ref: string): Promise<SecretScopeOptions> => {
    const ws = await deps.workspaces.resolve(principalOf(req), ref);
    return { workspaceId: ws.id };
  };

  const put = async (req: FastifyRequest, reply: FastifyReply, name: string, scope: SecretScopeOptions) => {
    const { value } = parseWith(PutBody, req.body ?? {}, 'body');
    const { secret, created } = await secrets.put(name, value, scope);
    return reply.status(created ? 201 : 200).send(secret satisfies SecretInfo);
  };

  const remove = async (reply: FastifyReply, name: string, scope: SecretScopeOptions) => {
    if (!(await secrets.delete(name, scope))) {
      throw new AppError(
        'secret_not_found',
        `no secret "${name}" in ${scope.workspaceId ? `workspace ${scope.workspaceId}` : 'the global scope'}; list them with GET ${
          scope.workspaceId ? `/v1/workspaces/${scope.workspaceId}/secrets` : '/v1/secrets'
        }`,
      );
    }
    return reply.status(204).send();
  };

  app.get('/v1/secrets', async (req): Promise<{ items: SecretInfo[] }> => {
    requireAdmin(req);
    return { items: await secrets.list() };
  });

  app.put('/v1/secrets/:name', async (req, reply) => {
    requireAdmin(req);
    const { name } = parseWith(NameParams, req.params, 'path');
    return put(req, reply, name, {});
  });

  app.delete('/v1/secrets/:name', async (req, reply) => {
    requireAdmin(req);
    const { name } = parseWith(NameParams, req.params, 'path');
    return remove(reply, name, {});
  });

  app.post('/v1/secrets/rekey', async (req): Promise<SecretRekeyResult> => {
    requireAdmin(req);
    const rekeyed = await secrets.rekey();
    return { rekeyed, keyId: secrets.activeKeyId };
  });

  app.get('/v1/workspaces/:id/secrets', async (req): Promise<{ items: SecretInfo[] }> => {
    const { id } = parseWith(WorkspaceParams, req.params, 'path');
    return { items: await secrets.list(await workspaceScope(req, id)) };
  });

  app.put('/v1/workspaces/:id/secrets/:name', async (req, reply) => {
    const { id, name } = parseWith(WorkspaceNameParams, req.params, 'path');
    return put(req, reply, name, await workspaceScope(req, id));
  });

  app.delete('/v1/workspaces/:id/secrets/:name', async (req, reply) => {
    const { id, name } = parseWith(WorkspaceNameParams, req.params, 'path');
    return remove(reply, name, await workspaceScope(req, id));
  });
}
