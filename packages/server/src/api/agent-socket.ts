import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { AGENT_PATH } from './routes/agent.js';

export const AGENT_SOCKET_NAME = 'agent.sock';

/**
 * Berth's agent socket: a Unix socket in a directory that agent workspaces get bind-mounted
 * read-only at /run/berth. It serves only the agent contract's routes (through the API's own
 * router, so validation, errors and logging are the same) — every other path is 404 — so a
 * workspace can reach Berth without the API leaving loopback. The directory (not the socket) is
 * mounted, so a restarted daemon's new socket is what running workspaces see.
 */
export async function listenAgentSocket(
  app: FastifyInstance,
  dir: string,
): Promise<{ path: string; close(): Promise<void> }> {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  const path = join(dir, AGENT_SOCKET_NAME);
  rmSync(path, { force: true });
  const server: Server = createServer((req, res) => {
    if (req.method !== 'POST' || !AGENT_PATH.test(req.url ?? '')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ code: 'route_not_found', message: 'the agent socket serves only POST /v1/agent/*' }),
      );
      return;
    }
    app.routing(req, res);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  // Workspace users (any uid) must be able to connect; the token authenticates them.
  chmodSync(path, 0o666);
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
