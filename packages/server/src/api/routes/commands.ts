import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import {
  CommandInputSchema,
  ExecInputSchema,
  SIGNALS,
  type CommandService,
  type CommandSession,
} from '../../workspaces/commands.js';
import { parseWith } from '../../workspaces/validate.js';
import type { WorkspaceService } from '../../workspaces/workspace-service.js';
import { principalOf } from '../app.js';
import { closeWithError, firstMessage, parseControl, sendAsync, sendJson, STREAM_BYTE } from './ws-util.js';

export interface CommandRouteDeps {
  workspaces: WorkspaceService;
  commands: CommandService;
}

const IdParams = z.object({ id: z.string().min(1).max(128) });
const CommandParams = IdParams.extend({ cid: z.string().min(1).max(64) });
const StartMessage = CommandInputSchema.extend({
  type: z.literal('start'),
  background: z.boolean().optional(),
});
const ControlMessage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('stdin-close') }),
  z.strictObject({ type: z.literal('kill') }),
  z.strictObject({
    type: z.literal('signal'),
    signal: z.union([z.enum(Object.keys(SIGNALS) as [string, ...string[]]), z.number().int().min(1).max(64)]),
  }),
]);
const KillBody = z.strictObject({
  signal: z
    .union([z.enum(Object.keys(SIGNALS) as [string, ...string[]]), z.number().int().min(1).max(64)])
    .optional(),
});

const signalNumber = (s: string | number): number => (typeof s === 'number' ? s : (SIGNALS[s] as number));

/**
 * Connects a WebSocket to a command: `{type:'started'}` first, then output as binary frames (first byte 1 = stdout, 2 = stderr),
 * stdin from binary frames, control as JSON (`stdin-close`, `signal`, `kill`), and `{type:'exit'}`
 * at the end. When the client goes away a foreground command is killed; a background one runs on.
 */
async function bridge(socket: WebSocket, session: CommandSession, afterSeq = -1): Promise<void> {
  await sendJson(socket, {
    type: 'started',
    command: session.info(),
    firstSeq: session.buffer.firstSeqAfter(afterSeq),
  });
  const detach = session.attach(async (chunk) => {
    await sendAsync(socket, Buffer.concat([Buffer.from([STREAM_BYTE[chunk.stream]]), chunk.data]));
  }, afterSeq);
  const offExit = session.onExit(() => {
    // Output has all been delivered by the time the session reports its exit.
    void sendJson(socket, { type: 'exit', exitCode: session.exitCode, timedOut: session.timedOut }).then(() =>
      socket.close(1000, 'exited'),
    );
  });
  socket.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) {
      void session.writeStdin(data);
      return;
    }
    const message = parseControl(socket, ControlMessage, data);
    if (message === undefined) return;
    if (message.type === 'stdin-close') void session.closeStdin();
    else if (message.type === 'kill') void session.kill();
    else void session.signal(signalNumber(message.signal));
  });
  socket.on('close', () => {
    detach();
    offExit();
    if (!session.background) session.hangUp();
  });
}

export function registerCommandRoutes(app: FastifyInstance, deps: CommandRouteDeps): void {
  app.post('/v1/workspaces/:id/exec', async (req) => {
    const { id } = parseWith(IdParams, req.params, 'path');
    const input = parseWith(ExecInputSchema, req.body ?? {}, 'body');
    const ws = await deps.workspaces.resolve(principalOf(req), id);
    return deps.commands.exec(ws, input);
  });

  app.post('/v1/workspaces/:id/commands', async (req, reply) => {
    const { id } = parseWith(IdParams, req.params, 'path');
    const input = parseWith(CommandInputSchema, req.body ?? {}, 'body');
    const ws = await deps.workspaces.resolve(principalOf(req), id);
    const session = await deps.commands.start(ws, input, { background: true });
    session.endStdin(); // no stdin for it: EOF, without writing to it
    return reply.status(201).send(session.info());
  });

  app.get('/v1/workspaces/:id/commands', async (req) => {
    const { id } = parseWith(IdParams, req.params, 'path');
    const ws = await deps.workspaces.resolve(principalOf(req), id);
    return { items: deps.commands.list(ws) };
  });

  app.get('/v1/workspaces/:id/commands/:cid', async (req) => {
    const { id, cid } = parseWith(CommandParams, req.params, 'path');
    const ws = await deps.workspaces.resolve(principalOf(req), id);
    return deps.commands.get(ws, cid).info();
  });

  app.post('/v1/workspaces/:id/commands/:cid/kill', async (req) => {
    const { id, cid } = parseWith(CommandParams, req.params, 'path');
    const body = parseWith(KillBody, req.body ?? {}, 'body');
    const ws = await deps.workspaces.resolve(principalOf(req), id);
    const session = deps.commands.get(ws, cid);
    if (body.signal === undefined || body.signal === 'SIGKILL' || body.signal === 9) {
      await session.kill();
      await Promise.race([session.done, new Promise((r) => setTimeout(r, 10_000))]);
    } else {
      await session.signal(signalNumber(body.signal));
    }
    return session.info();
  });

  // A new command, streamed: the first message is {type: 'start', cmd | command, ...}.
  app.get('/v1/workspaces/:id/commands/stream', { websocket: true }, async (socket, req) => {
    try {
      const { id } = parseWith(IdParams, req.params, 'path');
      const ws = await deps.workspaces.resolve(principalOf(req), id);
      const {
        type: _type,
        background,
        ...input
      } = parseWith(StartMessage, await firstMessage(socket, 10_000), 'message');
      const session = await deps.commands.start(ws, input, { background: background ?? false });
      await bridge(socket, session);
    } catch (err) {
      await closeWithError(socket, err);
    }
  });

  // Re-attach to a running (background) command: buffered output first, then live.
  app.get('/v1/workspaces/:id/commands/:cid/stream', { websocket: true }, async (socket, req) => {
    try {
      const { id, cid } = parseWith(CommandParams, req.params, 'path');
      const ws = await deps.workspaces.resolve(principalOf(req), id);
      const session = deps.commands.get(ws, cid);
      await bridge(socket, session);
    } catch (err) {
      await closeWithError(socket, err);
    }
  });
}
