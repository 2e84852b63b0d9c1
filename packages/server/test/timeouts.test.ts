import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Workspace } from '@berth/protocol';
import { describe, expect, it } from 'vitest';
import { DockerEngine } from '../src/engine/docker-engine.js';
import { createLogger, SecretRegistry } from '../src/log/logger.js';
import { withBerth } from './harness.js';

const logger = createLogger({ level: 'silent', secrets: new SecretRegistry() });

/** An "engine" socket that accepts connections and never answers (a wedged daemon). */
async function hangingSocket(): Promise<{ path: string; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-hang-'));
  const path = join(dir, 'engine.sock');
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('F14: hung engine calls and stops', () => {
  it('times a hung engine call out with a retryable engine_unavailable instead of waiting forever', async () => {
    const hang = await hangingSocket();
    const engine = new DockerEngine({ host: `unix://${hang.path}`, callTimeoutMs: 300, logger });
    try {
      const started = Date.now();
      await expect(engine.containers.inspect('anything')).rejects.toMatchObject({
        code: 'engine_unavailable',
      });
      expect(Date.now() - started).toBeLessThan(3000);
      expect(await engine.ping()).toBe(false);
      // A stop that never returns escalates to a kill, which is bounded by the call timeout too.
      const stopStarted = Date.now();
      await expect(engine.containers.stop('anything', 200)).rejects.toMatchObject({
        code: 'engine_unavailable',
      });
      expect(Date.now() - stopStarted).toBeLessThan(3000);
    } finally {
      await engine.close();
      await hang.close();
    }
  });

  it('stops a workspace whose process ignores SIGTERM by killing it after the grace period', async () => {
    await withBerth(
      {
        config: {
          runtimes: {
            stubborn: {
              image: 'berth-shell:0.1.0',
              command: ['sh', '-c', "trap '' TERM; while true; do sleep 1; done"],
            },
          },
        },
      },
      async (berth) => {
        const ws = (await berth.api<Workspace>('POST', '/v1/workspaces', { body: { runtime: 'stubborn' } }))
          .body;
        expect(ws.status).toBe('running');
        const started = Date.now();
        const stopped = await berth.api<Workspace>('POST', `/v1/workspaces/${ws.id}/stop`);
        const took = Date.now() - started;
        expect(stopped.body.status).toBe('stopped');
        expect(took).toBeGreaterThanOrEqual(1500); // the grace period (the harness sets 2 s) was given…
        expect(took).toBeLessThan(15_000); // …and then it was killed
        expect(stopped.body.error).toBeNull();
      },
    );
  });
});
