import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import type { FileService } from '../../workspaces/files.js';
import { parseWith } from '../../workspaces/validate.js';
import type { WorkspaceService } from '../../workspaces/workspace-service.js';
import { principalOf } from '../app.js';
import { boolFlag } from './query.js';

export interface FileRouteDeps {
  workspaces: WorkspaceService;
  files: FileService;
}

const IdParams = z.object({ id: z.string().min(1).max(128) });
const root = z.enum(['workspace', 'configs']).default('workspace');
const path = z.string().max(8192);
const mode = z
  .string()
  .regex(/^[0-7]{3,4}$/, 'an octal permission mode such as 644')
  .transform((m) => parseInt(m, 8))
  .refine((m) => m <= 0o777, 'no setuid, setgid or sticky bits');

const PathQuery = z.strictObject({ root, path: path.default('') });
const StatQuery = PathQuery.extend({ follow: boolFlag(false) });
const ListQuery = PathQuery.extend({
  depth: z.coerce.number().int().min(1).max(64).default(1),
  limit: z.coerce.number().int().min(1).max(100_000).default(1000),
});
const WriteQuery = z.strictObject({
  root,
  path,
  mode: mode.optional().transform((m) => m ?? 0o644),
  parents: boolFlag(true),
});
const RemoveQuery = z.strictObject({ root, path, recursive: boolFlag(false) });
const MkdirBody = z.strictObject({
  root,
  path,
  mode: z.number().int().min(0).max(0o777).default(0o755),
  parents: z.boolean().default(true),
});
const MoveBody = z.strictObject({ root, from: path, to: path, overwrite: z.boolean().default(false) });

const RAW_TYPES = ['application/octet-stream', 'application/x-tar', 'application/gzip', 'application/x-gzip'];

/** Sends a stream the helper produces; an error after the first byte aborts the transfer. */
async function sendStream(
  reply: FastifyReply,
  body: AsyncIterable<Buffer>,
  type: string,
): Promise<FastifyReply> {
  return reply.type(type).header('cache-control', 'no-store').send(Readable.from(body));
}

function rawBody(body: unknown): Readable {
  if (body instanceof Readable) return body;
  throw new AppError(
    'unsupported_media_type',
    `send the content as a raw body with Content-Type ${RAW_TYPES.join(' or ')}`,
  );
}

export function registerFileRoutes(app: FastifyInstance, deps: FileRouteDeps): void {
  // Raw bodies (file content, archives) are streamed to the workspace, never parsed or buffered.
  app.addContentTypeParser(RAW_TYPES, (_req, payload, done) => done(null, payload));

  const resolve = async (req: Parameters<typeof principalOf>[0]) => {
    const { id } = parseWith(IdParams, req.params, 'path');
    return deps.workspaces.resolve(principalOf(req), id);
  };

  app.get('/v1/workspaces/:id/files', async (req) => {
    const q = parseWith(ListQuery, req.query, 'query');
    return deps.files.list(await resolve(req), q.root, q.path, q.depth, q.limit);
  });

  app.get('/v1/workspaces/:id/files/stat', async (req) => {
    const q = parseWith(StatQuery, req.query, 'query');
    return deps.files.stat(await resolve(req), q.root, q.path, q.follow);
  });

  app.get('/v1/workspaces/:id/files/content', async (req, reply) => {
    const q = parseWith(PathQuery, req.query, 'query');
    return sendStream(
      reply,
      await deps.files.read(await resolve(req), q.root, q.path),
      'application/octet-stream',
    );
  });

  app.put('/v1/workspaces/:id/files/content', { bodyLimit: Number.MAX_SAFE_INTEGER }, async (req) => {
    const q = parseWith(WriteQuery, req.query, 'query');
    const ws = await resolve(req);
    return deps.files.write(ws, q.root, q.path, rawBody(req.body), { mode: q.mode, parents: q.parents });
  });

  app.post('/v1/workspaces/:id/files/mkdir', async (req) => {
    const b = parseWith(MkdirBody, req.body ?? {}, 'body');
    return deps.files.mkdir(await resolve(req), b.root, b.path, b.mode, b.parents);
  });

  app.post('/v1/workspaces/:id/files/move', async (req) => {
    const b = parseWith(MoveBody, req.body ?? {}, 'body');
    return deps.files.move(await resolve(req), b.root, b.from, b.to, b.overwrite);
  });

  app.delete('/v1/workspaces/:id/files', async (req, reply) => {
    const q = parseWith(RemoveQuery, req.query, 'query');
    await deps.files.remove(await resolve(req), q.root, q.path, q.recursive);
    return reply.status(204).send();
  });

  app.get('/v1/workspaces/:id/files/archive', async (req, reply) => {
    const q = parseWith(PathQuery, req.query, 'query');
    const body = await deps.files.downloadArchive(await resolve(req), q.root, q.path);
    return sendStream(reply, body, 'application/x-tar');
  });

  app.put('/v1/workspaces/:id/files/archive', { bodyLimit: Number.MAX_SAFE_INTEGER }, async (req) => {
    const q = parseWith(PathQuery, req.query, 'query');
    const ws = await resolve(req);
    return deps.files.uploadArchive(ws, q.root, q.path, rawBody(req.body));
  });
}
