import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import type { EngineDriver } from '../../engine/types.js';
import type { ActivitySink } from '../../workspaces/activity.js';
import { logLines } from '../../workspaces/logs.js';
import type { Provisioner } from '../../workspaces/provisioner.js';
import { parseWith } from '../../workspaces/validate.js';
import type { WorkspaceService } from '../../workspaces/workspace-service.js';
import { principalOf } from '../app.js';
import { boolFlag } from './query.js';

export interface LogRouteDeps {
  workspaces: WorkspaceService;
  provisioner: Provisioner;
  engine: EngineDriver;
  /** A follow is an open session; each line it sends is activity. */
  activity: ActivitySink;
}

const IdParams = z.object({ id: z.string().min(1).max(128) });
const LogQuery = z.strictObject({
  tail: z.coerce.number().int().min(0).max(1_000_000).optional(),
  follow: boolFlag(false),
  timestamps: boolFlag(false),
  since: z.coerce.number().int().min(0).optional(),
});

export function registerLogRoutes(app: FastifyInstance, deps: LogRouteDeps): void {
  // NDJSON: one {stream, text, time?} per line; with follow=true the response streams until the
  // container stops or the client disconnects. Readable until the workspace is deleted.
  app.get('/v1/workspaces/:id/logs', async (req, reply) => {
    const { id } = parseWith(IdParams, req.params, 'path');
    const q = parseWith(LogQuery, req.query, 'query');
    const ws = await deps.workspaces.resolve(principalOf(req), id);
    const container = await deps.provisioner.findContainer(ws);
    if (!container)
      throw new AppError('invalid_state', `workspace ${ws.name} has no container yet (status ${ws.status})`);
    const abort = new AbortController();
    req.raw.on('close', () => abort.abort());
    const frames = await deps.engine.containers.logs(
      container.id,
      {
        follow: q.follow,
        timestamps: q.timestamps,
        ...(q.tail !== undefined ? { tail: q.tail } : {}),
        ...(q.since !== undefined ? { since: q.since } : {}),
      },
      abort.signal,
    );
    const endSession = q.follow ? deps.activity.begin(ws.id) : () => {};
    req.raw.on('close', endSession);
    const body = Readable.from(
      (async function* () {
        try {
          for await (const line of logLines(frames, { timestamps: q.timestamps })) {
            if (q.follow) deps.activity.touch(ws.id);
            yield `${JSON.stringify(line)}\n`;
          }
        } catch (err) {
          if (!abort.signal.aborted) throw err;
        } finally {
          endSession();
        }
      })(),
    );
    return reply.type('application/x-ndjson').header('cache-control', 'no-store').send(body);
  });
}
