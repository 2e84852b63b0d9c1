import { WORKSPACE_STATUSES, type WorkspaceStats, type WorkspaceStatus } from '@berth/protocol';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { EngineDriver } from '../../engine/types.js';
import { AppError } from '../../errors.js';
import { decodeCursor } from '../../store/workspace-repo.js';
import type { ActivitySink } from '../../workspaces/activity.js';
import type { Provisioner } from '../../workspaces/provisioner.js';
import { parseWith } from '../../workspaces/validate.js';
import type { WorkspaceService } from '../../workspaces/workspace-service.js';
import { principalOf } from '../app.js';
import { waitFlag, WaitQuery } from './query.js';

export interface WorkspaceRouteDeps {
  workspaces: WorkspaceService;
  /** Keepalive records activity here. */
  activity: ActivitySink;
  /** Stats read the workspace's container from the engine. */
  provisioner: Provisioner;
  engine: EngineDriver;
}

const IdParams = z.object({ id: z.string().min(1).max(128) });

const ListQuery = z.strictObject({
  status: z.string().max(200).optional(),
  label: z.union([z.string(), z.array(z.string())]).optional(),
  runtime: z.string().max(63).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(512).optional(),
});

function parseStatuses(text: string | undefined): WorkspaceStatus[] | undefined {
  if (!text) return undefined;
  const statuses = text.split(',').map((s) => s.trim());
  const bad = statuses.filter((s) => !(WORKSPACE_STATUSES as readonly string[]).includes(s));
  if (bad.length > 0) {
    throw new AppError(
      'validation_failed',
      `unknown status ${bad.join(', ')}; statuses are ${WORKSPACE_STATUSES.join(', ')}`,
    );
  }
  return statuses as WorkspaceStatus[];
}

function parseLabels(value: string | string[] | undefined): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const pair of Array.isArray(value) ? value : [value]) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new AppError('validation_failed', `label filter "${pair}" must be key=value`);
    out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}

export function registerWorkspaceRoutes(app: FastifyInstance, deps: WorkspaceRouteDeps): void {
  const ws = deps.workspaces;

  app.post('/v1/workspaces', async (req, reply) => {
    const { wait } = parseWith(WaitQuery, req.query, 'query');
    const header = req.headers['idempotency-key'];
    if (Array.isArray(header))
      throw new AppError('invalid_idempotency_key', 'send one Idempotency-Key header');
    const { workspace, replayed } = await ws.create(principalOf(req), req.body ?? {}, {
      idempotencyKey: header,
      wait,
    });
    if (replayed) void reply.header('idempotent-replayed', 'true');
    return reply.status(replayed ? 200 : 201).send(workspace);
  });

  app.get('/v1/workspaces', async (req) => {
    const q = parseWith(ListQuery, req.query, 'query');
    if (q.cursor) {
      try {
        decodeCursor(q.cursor);
      } catch {
        throw new AppError(
          'validation_failed',
          'cursor is not one this server returned; start again without it',
        );
      }
    }
    const statuses = parseStatuses(q.status);
    const labels = parseLabels(q.label);
    return ws.list(principalOf(req), {
      limit: q.limit,
      ...(statuses ? { statuses } : {}),
      ...(labels ? { labels } : {}),
      ...(q.runtime ? { runtime: q.runtime } : {}),
      ...(q.cursor ? { cursor: q.cursor } : {}),
    });
  });

  app.get('/v1/workspaces/:id', async (req) => {
    const { id } = parseWith(IdParams, req.params, 'path');
    return ws.get(principalOf(req), id);
  });

  for (const action of ['stop', 'start', 'restart'] as const) {
    app.post(`/v1/workspaces/:id/${action}`, async (req) => {
      const { id } = parseWith(IdParams, req.params, 'path');
      const { wait } = parseWith(WaitQuery, req.query, 'query');
      return ws[action](principalOf(req), id, wait);
    });
  }

  app.delete('/v1/workspaces/:id', async (req, reply) => {
    const { id } = parseWith(IdParams, req.params, 'path');
    const { wait } = parseWith(z.strictObject({ wait: waitFlag }), req.query, 'query');
    const pending = await ws.delete(principalOf(req), id, wait);
    if (pending) return reply.status(202).send(pending);
    return reply.status(204).send();
  });

  app.patch('/v1/workspaces/:id/egress', async (req) => {
    const { id } = parseWith(IdParams, req.params, 'path');
    return ws.updateEgress(principalOf(req), id, req.body ?? {});
  });

  // GET /v1/workspaces/:id/events (JSON pages and SSE) lives in routes/events.ts.

  // One sample of the container's resource use (the engine measures CPU over about a second).
  // Not activity: watching a workspace does not keep it from idling.
  app.get('/v1/workspaces/:id/stats', async (req): Promise<WorkspaceStats> => {
    const { id } = parseWith(IdParams, req.params, 'path');
    const record = await ws.resolve(principalOf(req), id);
    const notRunning = () =>
      new AppError(
        'invalid_state',
        `workspace ${record.name} is not running (status ${record.status}); ${
          record.status === 'provisioning' || record.status === 'starting'
            ? 'ask again once it is running'
            : 'start it to see its resource use'
        }`,
      );
    const container = await deps.provisioner.findContainer(record);
    if (!container?.running) throw notRunning();
    const stats = await deps.engine.containers.stats(container.id);
    if (!stats) throw notRunning();
    return { workspaceId: record.id, ...stats };
  });

  // Counts as activity: the idle timeout starts over. Only for a workspace that is (meant to be) running.
  app.post('/v1/workspaces/:id/keepalive', async (req) => {
    const { id } = parseWith(IdParams, req.params, 'path');
    const current = await ws.get(principalOf(req), id);
    if (!['running', 'unresponsive'].includes(current.status) || current.desiredState !== 'running')
      throw new AppError('invalid_state', `workspace ${current.name} is ${current.status}; start it first`);
    deps.activity.touch(current.id);
    return { ...current, lastActivityAt: new Date().toISOString() };
  });
}
