import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import type { TerminalService, TerminalSession } from '../../workspaces/terminals.js';
import { parseWith } from '../../workspaces/validate.js';
import type { WorkspaceService } from '../../workspaces/workspace-service.js';
import { principalOf } from '../app.js';
import { closeWithError, firstMessage, parseControl, sendAsync, sendJson } from './ws-util.js';

export interface TerminalRouteDeps {
  workspaces: WorkspaceService;
  terminals: TerminalService;
}

const IdParams = z.object({ id: z.string().min(1).max(128) });
const TerminalParams = IdParams.extend({ tid: z.string().min(1).max(64) });
const size = { cols: z.number().int().min(1).max(1000), rows: z.number().int().min(1).max(1000) };
const StartMessage = z.strictObject({
  type: z.literal('start'),
  ...size,
  cmd: z.array(z.string().max(4096)).min(1).max(256).optional(),
  cwd: z
    .string()
    .max(4096)
    .refine((s) => s.startsWith('/') && !/^\/proc(\/|$)/.test(s), 'cwd is an absolute path outside /proc')
    .optional(),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,254}$/), z.string().max(32 * 1024)).optional(),
});
const ResizeMessage = z.strictObject({ type: z.literal('resize'), ...size });
const AttachQuery = z.strictObject({ after: z.coerce.number().int().min(-1).default(-1) });

/**
 * Connects a WebSocket to a terminal: `{type:'started'}` first, then raw bytes both ways (binary frames), `{type:'resize'}` from
 * the client, `{type:'exit', exitCode}` at the end. Closing the socket detaches; the terminal lives
 * on for a while so the client can reconnect.
 */
async function bridge(socket: WebSocket, session: TerminalSession, afterSeq: number): Promise<void> {
  await sendJson(socket, {
    type: 'started',
    terminal: session.info(),
    firstSeq: session.buffer.firstSeqAfter(afterSeq),
  });
  const detach = session.attach((chunk) => sendAsync(socket, chunk.data), afterSeq);
  const offExit = session.onExit(() => {
    void sendJson(socket, { type: 'exit', exitCode: session.exitCode }).then(() =>
      socket.close(1000, 'exited'),
    );
  });
  socket.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) {
      void session.input(data);
      return;
    }
    const message = parseControl(socket, ResizeMessage, data);
    if (message !== undefined) void session.resize(message.cols, message.rows);
  });
  socket.on('close', () => {
    detach();
    offExit();
  });
}

export function registerTerminalRoutes(app: FastifyInstance, deps: TerminalRouteDeps): void {
  app.get('/v1/workspaces/:id/terminals', async (req) => {
    const { id } = parseWith(IdParams, req.params, 'path');
    const ws = await deps.workspaces.resolve(principalOf(req), id);
    return { items: deps.terminals.list(ws) };
  });

  app.delete('/v1/workspaces/:id/terminals/:tid', async (req, reply) => {
    const { id, tid } = parseWith(TerminalParams, req.params, 'path');
    const ws = await deps.workspaces.resolve(principalOf(req), id);
    await deps.terminals.get(ws, tid).kill();
    return reply.status(204).send();
  });

  // A new terminal: the first message is {type: 'start', cols, rows, cmd?, cwd?, env?}.
  app.get('/v1/workspaces/:id/terminals/stream', { websocket: true }, async (socket, req) => {
    try {
      const { id } = parseWith(IdParams, req.params, 'path');
      const ws = await deps.workspaces.resolve(principalOf(req), id);
      const { type: _type, ...options } = parseWith(
        StartMessage,
        await firstMessage(socket, 10_000),
        'message',
      );
      const session = await deps.terminals.open(ws, options);
      await bridge(socket, session, -1);
    } catch (err) {
      await closeWithError(socket, err);
    }
  });

  // Reconnect to a live terminal: what is buffered after `after` first, then live output.
  app.get('/v1/workspaces/:id/terminals/:tid/stream', { websocket: true }, async (socket, req) => {
    try {
      const { id, tid } = parseWith(TerminalParams, req.params, 'path');
      const { after } = parseWith(AttachQuery, req.query, 'query');
      const ws = await deps.workspaces.resolve(principalOf(req), id);
      const session = deps.terminals.get(ws, tid);
      await bridge(socket, session, after);
    } catch (err) {
      await closeWithError(socket, err);
    }
  });
}
