import type { SystemInfo } from '@berth/protocol';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ResolvedConfig } from '../../config/load.js';
import type { EngineDriver } from '../../engine/types.js';
import type { ImageService } from '../../images/image-service.js';
import { WaitQuery } from './query.js';
import type { RuntimeCatalogue } from '../../runtimes/catalogue.js';
import { BERTH_VERSION } from '../../version.js';
import { parseWith } from '../../workspaces/validate.js';
import { openApiDocument } from '../openapi.js';
import { requireAdmin } from '../app.js';

export interface SystemRouteDeps {
  engine: EngineDriver;
  images: ImageService;
  catalogue: RuntimeCatalogue;
  config: ResolvedConfig;
  platformUrl: () => string;
  seccomp: () => 'engine-default' | 'berth-hardened';
  reconcilerStatus: () => {
    lastScanAt: string | null;
    lastError: string | null;
    queue: { queued: number; running: number; delayed: number };
  };
}

export function registerSystemRoutes(app: FastifyInstance, deps: SystemRouteDeps): void {
  const document = openApiDocument();

  app.get('/healthz', async () => {
    const healthy = await deps.engine.ping();
    const reconciler = deps.reconcilerStatus();
    return {
      status: healthy && !reconciler.lastError ? 'ok' : 'degraded',
      version: BERTH_VERSION,
      engine: { healthy },
      reconciler,
    };
  });

  app.get('/v1/openapi.json', () => Promise.resolve(document));

  app.get('/v1/system', async (): Promise<SystemInfo> => ({
    version: BERTH_VERSION,
    engine: deps.engine.info,
    engineHealthy: await deps.engine.ping(),
    tiers: {
      allowPrivileged: deps.config.tiers.allowPrivileged,
      gvisor: deps.config.tiers.gvisor,
      seccomp: deps.seccomp(),
    },
    platformUrl: deps.platformUrl(),
  }));

  app.get('/v1/runtimes', async () => ({
    items: await Promise.all(
      deps.catalogue.list().map(async (rt) => deps.catalogue.info(rt, await deps.images.present(rt.image))),
    ),
  }));

  app.get('/v1/images', async () => ({ items: await deps.images.list() }));

  app.post('/v1/images/:runtime/build', async (req, reply) => {
    requireAdmin(req);
    const { runtime } = parseWith(z.object({ runtime: z.string().max(63) }), req.params, 'path');
    const { wait } = parseWith(WaitQuery, req.query, 'query');
    if (!wait) return reply.code(202).send(await deps.images.start(runtime));
    return deps.images.build(runtime);
  });
}
